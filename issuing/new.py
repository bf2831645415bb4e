"""Issuing new credentials, a set at a time: from the form (a set of one), the API, or the
staged rows of a spreadsheet import."""

from collections import Counter
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

import audit
from issuing.emails import (
    CREDENTIALS,
    HELD,
    MESSAGES,
    QUEUE_COLUMNS,
    at,
    queue_issued,
    record_bounces,
    values_cte,
)
from models import Credential, CredentialGroup, FunnelCount, Organization, StatusCount, counting
from models.credential import new_public_id
from models.email_message import new_message_id, new_token
from models.search import search_text
from models.states import IssueState, MessageState
from models.status import email_status
from models.types import UTCDateTime, add_months, utcnow

GROUPS = CredentialGroup.__table__
# What a held email can have become before it is released: queued still, bounced as its
# address is suppressed, or cancelled (revoked, or a new address, once shown).
HELD_STATES = (MessageState.QUEUED, MessageState.BOUNCED, MessageState.CANCELLED)
ISSUE_STATES = {"draft": IssueState.DRAFT, "publish": IssueState.PUBLISHED,
                "schedule": IssueState.SCHEDULED}
# A set of credentials to issue: what issue() reads, from staged rows or VALUES alike.
ROW_COLUMNS = (sa.column("name", sa.String), sa.column("email", sa.String),
               sa.column("group_name", sa.String), sa.column("action", sa.String),
               sa.column("scheduled_at", UTCDateTime), sa.column("send_email", sa.Boolean),
               *QUEUE_COLUMNS, sa.column("public_id", sa.String),
               sa.column("expires_at", UTCDateTime), sa.column("search_text", sa.Text))


class NewCredential(NamedTuple):
    """One credential to issue, its fields already validated."""

    name: str
    email: str | None
    group: str
    action: str = "draft"  # draft | publish | schedule
    scheduled_at: datetime | None = None  # for schedule
    send_email: bool = True
    expires_at: datetime | None = None  # None: from the group's validity, if it has one


def issue(connection, org_id, user_id, rows, now=None):
    """Create a credential for each row of a set (ROW_COLUMNS), with its group when new and,
    when it is published with email to an address, its queued email; the statuses and the
    counts follow. Set-based: a 100,000-row import is a handful of statements. Returns the
    counts {"issued", "queued"}."""
    now = now or utcnow()
    _add_groups(connection, org_id, rows, now)
    statuses, per_group = tally(connection, org_id, rows)
    write(connection, org_id, rows, sum(statuses.values()), now)
    _count(connection, org_id, statuses, per_group)
    queued = queue_issued(connection, _to_queue(rows), user_id, now)
    return {"issued": sum(statuses.values()), "queued": queued}


def _status(rows):
    """SQL: each row's status as it is born, from what it is born with: an address or none,
    an email queued or none (the one rule, once per shape)."""
    return sa.case((rows.c.email.is_(None), email_status(False, None, False).value),
                   (_queues(rows), email_status(True, MessageState.QUEUED, False).value),
                   else_=email_status(True, None, False).value)


def _queues(rows):
    """SQL: the row's credential is published with its email to an address."""
    return sa.and_(rows.c.action == "publish", rows.c.send_email, rows.c.email.is_not(None))


def _to_queue(rows):
    return (sa.select(*(rows.c[column.name] for column in QUEUE_COLUMNS))
            .where(_queues(rows)).subquery("to_queue"))


def tally(connection, org_id, rows):
    """How many of the rows are born with each status, and go to each group (which
    exists): ({status: n}, {group id: n})."""
    status = _status(rows)
    return dict(connection.execute(
        sa.select(status, sa.func.count()).select_from(rows).group_by(status)).all()), dict(
        connection.execute(
            sa.select(GROUPS.c.id, sa.func.count()).select_from(rows)
            .join(GROUPS, sa.and_(GROUPS.c.org_id == org_id,
                                  GROUPS.c.name == rows.c.group_name))
            .group_by(GROUPS.c.id)).all())


def write(connection, org_id, rows, count, now, import_id=None):
    """Insert the count rows' credentials, each with its place in the status lists (their
    groups exist): the one INSERT … SELECT of every way of issuing."""
    published = rows.c.action == "publish"
    issue_state = sa.case(*((rows.c.action == action, state)
                            for action, state in ISSUE_STATES.items()))
    first_place = reserve_places(connection, org_id, count)
    # Published now: valid for the group's months unless the row says until when.
    expires = sa.case((published, sa.func.coalesce(rows.c.expires_at, _validity_ends(
        connection, org_id, rows, now))), else_=rows.c.expires_at)
    connection.execute(sa.insert(CREDENTIALS).from_select(
        ["org_id", "group_id", "recipient_name", "recipient_email", "issue_state",
         "scheduled_at", "published_at", "send_email", "token", "created_at", "email_status",
         "public_id", "expires_at", "status_index", "search_text", "import_id"],
        sa.select(sa.literal(org_id), GROUPS.c.id, rows.c.name, rows.c.email, issue_state,
                  sa.case((rows.c.action == "schedule", rows.c.scheduled_at)),
                  sa.case((published, at(now))), rows.c.send_email,
                  rows.c.token, at(now), _status(rows), rows.c.public_id, expires,
                  first_place - 1 + sa.func.row_number().over(order_by=rows.c.line),
                  rows.c.search_text, sa.literal(import_id, sa.Integer))
        .join_from(rows, GROUPS, sa.and_(GROUPS.c.org_id == org_id,
                                          GROUPS.c.name == rows.c.group_name))
        .order_by(rows.c.line)))


def _count(connection, org_id, statuses, per_group):
    """Count new credentials: in their statuses, and in their groups' funnels."""
    StatusCount.apply(connection, Counter({(org_id, s): n for s, n in statuses.items()}))
    counting.add(connection, FunnelCount,
                 {(org_id, group_id, "credentials"): n for group_id, n in per_group.items()})


def stage(connection, org_id, user_id, rows, now, import_id):
    """Issue a chunk of an import's rows hidden (Credential.shown): its credentials, their
    emails held and their events; nothing is counted yet. Returns the groups it created."""
    groups = _add_groups(connection, org_id, rows, now)
    write(connection, org_id, rows, connection.scalar(
        sa.select(sa.func.count()).select_from(rows)), now, import_id)
    queue_issued(connection, _to_queue(rows), user_id, now, held=True)
    return groups


def show(connection, org_id, import_id, tallied, now):
    """Count an import's staged credentials (tallied: tally() of all its rows, read before)
    and record the bounces of its emails to suppressed addresses, in the transaction that
    moves the import out of issuing, which shows them. Returns how many emails it queued."""
    statuses, per_group = tallied
    _count(connection, org_id, statuses, per_group)
    record_bounces(connection, connection.execute(
        sa.select(MESSAGES.c.id, MESSAGES.c.credential_id, MESSAGES.c.bounce_code)
        .join(CREDENTIALS, CREDENTIALS.c.id == MESSAGES.c.credential_id)
        .where(MESSAGES.c.state == MessageState.BOUNCED, MESSAGES.c.next_attempt_at == HELD,
               CREDENTIALS.c.import_id == import_id)).all(), now)
    return statuses.get(email_status(True, MessageState.QUEUED, False).value, 0)


def release(connection, limit):
    """Give the held emails of imports now shown their real due time (when they were
    queued), up to limit of them; return how many."""
    held = (sa.select(MESSAGES.c.id)
            .join(CREDENTIALS, CREDENTIALS.c.id == MESSAGES.c.credential_id)
            .where(MESSAGES.c.state.in_(HELD_STATES), MESSAGES.c.next_attempt_at == HELD,
                   Credential.shown()).limit(limit))
    return connection.execute(
        sa.update(MESSAGES).where(MESSAGES.c.id.in_(held))
        .values(next_attempt_at=MESSAGES.c.created_at)).rowcount


def reserve_places(connection, org_id, count):
    """Take count places in the organization's revocation status lists; the first one."""
    orgs = Organization.__table__
    following = connection.execute(
        sa.update(orgs).where(orgs.c.id == org_id)
        .values(status_next=orgs.c.status_next + count).returning(orgs.c.status_next)).scalar()
    return following - count


def _validity_ends(connection, org_id, rows, now):
    """SQL: when a credential of the row's group published now stops being valid (NULL for
    a group without a validity)."""
    ends = {group_id: add_months(now, months) for group_id, months in connection.execute(
        sa.select(GROUPS.c.id, GROUPS.c.validity_months).where(
            GROUPS.c.org_id == org_id, GROUPS.c.validity_months.is_not(None),
            GROUPS.c.name.in_(sa.select(rows.c.group_name).correlate(None))))}
    if not ends:
        return sa.literal(None, UTCDateTime)
    return sa.case(*((GROUPS.c.id == group_id, at(end)) for group_id, end in ends.items()))


def _add_groups(connection, org_id, rows, now):
    """Create the groups the rows name that the organization does not have yet; their
    ids."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    known = sa.select(GROUPS.c.id).where(GROUPS.c.org_id == org_id,
                                         GROUPS.c.name == rows.c.group_name)
    return connection.execute(insert(GROUPS).from_select(
        ["org_id", "name", "created_at"],
        sa.select(sa.literal(org_id), rows.c.group_name, at(now))
        .where(~known.exists()).distinct()).on_conflict_do_nothing()
        .returning(GROUPS.c.id)).scalars().all()


def staged(new_credentials):
    """NewCredentials as one set of rows for issue(), each with fresh tokens."""
    rows = [(c.name, c.email, c.group, c.action, c.scheduled_at, c.send_email, line,
             new_token(), new_message_id() if c.email else None, new_token() if c.email else None,
             new_public_id(), c.expires_at, search_text(c.name, c.email))
            for line, c in enumerate(new_credentials)]
    return values_cte(ROW_COLUMNS, rows, "new_credentials"), [row[7] for row in rows]


def issue_new(connection, org_id, user_id, new_credentials, now=None):
    """Issue NewCredentials (one or many) as one set; return their ids in their order."""
    if not new_credentials:
        return []
    rows, tokens = staged(new_credentials)
    issue(connection, org_id, user_id, rows, now)
    ids = dict(connection.execute(sa.select(CREDENTIALS.c.token, CREDENTIALS.c.id)
                                  .where(CREDENTIALS.c.token.in_(tokens))).all())
    ids = [ids[token] for token in tokens]
    audit.record("credential.issue", ids, connection=connection)
    return ids
