"""Corrections to what was issued: a new name, a draft's group, a deleted draft, revocation
and reinstatement, a new expiry.

Like issuing.changes, each works in the caller's transaction on a set of credentials and
records the events it makes (timeline).
"""

from collections import Counter

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

import audit
import timeline
from issuing.emails import CREDENTIALS
from models import CredentialGroup, EmailEvent, EmailMessage, FunnelCount, StatusCount, counting
from models.search import search_text
from models.states import EventType, IssueState, MessageState
from models.types import add_months, iso, utcnow

MESSAGES, EVENTS, GROUPS = (EmailMessage.__table__, EmailEvent.__table__,
                            CredentialGroup.__table__)
# Emails a revocation stops: those waiting for their turn or a retry (one on the wire is
# left to finish).
UNSENT = (MessageState.QUEUED, MessageState.RETRY)


def rename(connection, credential_id, name, user_id=None, now=None):
    """Give the recipient another name (pages, PDF and signed credential show it); False
    when it was that name already."""
    old, email = connection.execute(
        sa.select(CREDENTIALS.c.recipient_name, CREDENTIALS.c.recipient_email)
        .where(CREDENTIALS.c.id == credential_id)).one()
    if old == name:
        return False
    connection.execute(sa.update(CREDENTIALS).where(CREDENTIALS.c.id == credential_id)
                       .values(recipient_name=name, search_text=search_text(name, email)))
    timeline.record(connection, [timeline.Event(
        EventType.NAME_CHANGED, credential_id, now or utcnow(),
        data={"old": old, "new": name}, user_id=user_id)])
    audit.record("credential.rename", [credential_id], {"recipient_name": [old, name]},
                 connection=connection)
    return True


def group_named(connection, org_id, name, now=None):
    """The id of the organization's group of that name, made if it has none yet."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(insert(GROUPS).values(org_id=org_id, name=name,
                                             created_at=now or utcnow())
                       .on_conflict_do_nothing())
    return connection.execute(sa.select(GROUPS.c.id).where(
        GROUPS.c.org_id == org_id, GROUPS.c.name == name)).scalar_one()


def move_drafts(connection, credential_ids, group_id):
    """Put these drafts in another group of their organization (checked by the caller);
    returns the ids moved. Published credentials keep theirs."""
    drafts = _drafts(connection, credential_ids, CREDENTIALS.c.group_id != group_id)
    if drafts:
        connection.execute(sa.update(CREDENTIALS).where(
            CREDENTIALS.c.id.in_([row.id for row in drafts])).values(group_id=group_id))
        # Each group's funnel counts its own credentials.
        moves = Counter()
        for row in drafts:
            moves[(row.org_id, row.group_id, "credentials")] -= 1
            moves[(row.org_id, group_id, "credentials")] += 1
        counting.add(connection, FunnelCount, moves)
        audit.record("credential.move", [row.id for row in drafts], {"group_id": group_id},
                     connection=connection)
    return [row.id for row in drafts]


def delete_drafts(connection, credential_ids):
    """Delete these drafts (with what was recorded about them) and take them out of the
    counts; returns the ids deleted. Published credentials are revoked instead."""
    drafts = _drafts(connection, credential_ids)
    if drafts:
        ids = [row.id for row in drafts]
        audit.record("credential.delete", ids, connection=connection)
        connection.execute(sa.delete(EVENTS).where(EVENTS.c.credential_id.in_(ids)))
        connection.execute(sa.delete(MESSAGES).where(MESSAGES.c.credential_id.in_(ids)))
        connection.execute(sa.delete(CREDENTIALS).where(CREDENTIALS.c.id.in_(ids)))
        StatusCount.apply(connection, Counter({key: -n for key, n in Counter(
            (row.org_id, row.email_status) for row in drafts).items()}))
        counting.add(connection, FunnelCount, Counter({key: -n for key, n in Counter(
            (row.org_id, row.group_id, "credentials") for row in drafts).items()}))
    return ids if drafts else []


def _drafts(connection, credential_ids, *where):
    """The drafts among these credentials, locked for the caller's change."""
    return connection.execute(
        sa.select(CREDENTIALS.c.id, CREDENTIALS.c.org_id, CREDENTIALS.c.group_id,
                  CREDENTIALS.c.email_status)
        .where(CREDENTIALS.c.id.in_(list(credential_ids)),
               CREDENTIALS.c.issue_state == IssueState.DRAFT, *where)
        .order_by(CREDENTIALS.c.id).with_for_update()).all()


def revoke(connection, credential_ids, reason, user_id=None, now=None):
    """Revoke these published credentials with a reason (checked by the caller): their
    status list bit is set, their unsent emails are cancelled. Returns the ids revoked
    (those revoked already, or not published, are left alone)."""
    now = now or utcnow()
    revoked = connection.execute(
        sa.update(CREDENTIALS)
        .where(CREDENTIALS.c.id.in_(list(credential_ids)), CREDENTIALS.c.revoked_at.is_(None),
               CREDENTIALS.c.issue_state == IssueState.PUBLISHED)
        .values(revoked_at=now, revocation_reason=reason)
        .returning(CREDENTIALS.c.id)).scalars().all()
    if revoked:
        connection.execute(sa.update(MESSAGES).where(
            MESSAGES.c.credential_id.in_(revoked), MESSAGES.c.state.in_(UNSENT))
            .values(state=MessageState.CANCELLED))
        timeline.record(connection, [
            timeline.Event(EventType.REVOKED, credential_id, now, data={"reason": reason},
                           user_id=user_id) for credential_id in sorted(revoked)])
        audit.record("credential.revoke", sorted(revoked), {"reason": reason},
                     connection=connection)
    return revoked


def reinstate(connection, credential_ids, user_id=None, now=None):
    """Make revoked credentials valid again; returns the ids reinstated. Their cancelled
    emails stay cancelled: the issuer notifies the recipient again if they wish."""
    now = now or utcnow()
    reinstated = connection.execute(
        sa.update(CREDENTIALS)
        .where(CREDENTIALS.c.id.in_(list(credential_ids)),
               CREDENTIALS.c.revoked_at.is_not(None))
        .values(revoked_at=None, revocation_reason=None)
        .returning(CREDENTIALS.c.id)).scalars().all()
    timeline.record(connection, [timeline.Event(EventType.REINSTATED, credential_id, now,
                                                user_id=user_id)
                                 for credential_id in sorted(reinstated)])
    audit.record("credential.reinstate", sorted(reinstated), connection=connection)
    return reinstated


def set_expiry(connection, credential_id, expires_at):
    """Make the credential valid until then (None: for good)."""
    old = connection.execute(sa.select(CREDENTIALS.c.expires_at)
                             .where(CREDENTIALS.c.id == credential_id)).scalar_one()
    connection.execute(sa.update(CREDENTIALS).where(CREDENTIALS.c.id == credential_id)
                       .values(expires_at=expires_at))
    audit.record("credential.expiry", [credential_id], {"expires_at": [
        iso(old), iso(expires_at)]}, connection=connection)


def expire_from_groups(connection, credential_ids, now):
    """Credentials published now without an expiry of their own: valid for their group's
    months (a group without them: for good)."""
    validity = connection.execute(
        sa.select(GROUPS.c.id, GROUPS.c.validity_months).distinct()
        .join(CREDENTIALS, CREDENTIALS.c.group_id == GROUPS.c.id)
        .where(CREDENTIALS.c.id.in_(list(credential_ids)),
               GROUPS.c.validity_months.is_not(None))).all()
    for group_id, months in validity:
        connection.execute(sa.update(CREDENTIALS).where(
            CREDENTIALS.c.id.in_(list(credential_ids)), CREDENTIALS.c.group_id == group_id,
            CREDENTIALS.c.expires_at.is_(None)).values(expires_at=add_months(now, months)))
