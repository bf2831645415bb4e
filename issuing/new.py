"""Issuing new credentials, a set at a time: from the form (a set of one), the API, or the
staged rows of a spreadsheet import."""

from collections import Counter
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

import audit
from issuing.emails import CREDENTIALS, QUEUE_COLUMNS, at, queue_issued, values_cte
from models import CredentialGroup, FunnelCount, Organization, StatusCount, counting
from models.credential import new_public_id
from models.email_message import new_message_id, new_token
from models.states import IssueState, MessageState
from models.status import email_status
from models.types import UTCDateTime, add_months, utcnow

GROUPS = CredentialGroup.__table__
ISSUE_STATES = {"draft": IssueState.DRAFT, "publish": IssueState.PUBLISHED,
                "schedule": IssueState.SCHEDULED}
# A set of credentials to issue: what issue() reads, from staged rows or VALUES alike.
ROW_COLUMNS = (sa.column("name", sa.String), sa.column("email", sa.String),
               sa.column("group_name", sa.String), sa.column("action", sa.String),
               sa.column("scheduled_at", UTCDateTime), sa.column("send_email", sa.Boolean),
               *QUEUE_COLUMNS, sa.column("public_id", sa.String),
               sa.column("expires_at", UTCDateTime))


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
    published = rows.c.action == "publish"
    queues = sa.and_(published, rows.c.send_email, rows.c.email.is_not(None))
    # Each is born with the status of what it is born with: an address or none, an email
    # queued or none (the one rule, once per shape).
    status = sa.case((rows.c.email.is_(None), email_status(False, None, False).value),
                     (queues, email_status(True, MessageState.QUEUED, False).value),
                     else_=email_status(True, None, False).value)
    issue_state = sa.case(*((rows.c.action == action, state)
                            for action, state in ISSUE_STATES.items()))
    counts = dict(connection.execute(
        sa.select(status, sa.func.count()).select_from(rows).group_by(status)).all())
    first_place = reserve_places(connection, org_id, sum(counts.values()))
    # Published now: valid for the group's months unless the row says until when.
    expires = sa.case((published, sa.func.coalesce(rows.c.expires_at, _validity_ends(
        connection, org_id, rows, now))), else_=rows.c.expires_at)
    connection.execute(sa.insert(CREDENTIALS).from_select(
        ["org_id", "group_id", "recipient_name", "recipient_email", "issue_state",
         "scheduled_at", "published_at", "send_email", "token", "created_at", "email_status",
         "public_id", "expires_at", "status_index"],
        sa.select(sa.literal(org_id), GROUPS.c.id, rows.c.name, rows.c.email, issue_state,
                  sa.case((rows.c.action == "schedule", rows.c.scheduled_at)),
                  sa.case((published, at(now))), rows.c.send_email,
                  rows.c.token, at(now), status, rows.c.public_id, expires,
                  first_place - 1 + sa.func.row_number().over(order_by=rows.c.line))
        .join_from(rows, GROUPS, sa.and_(GROUPS.c.org_id == org_id,
                                          GROUPS.c.name == rows.c.group_name))
        .order_by(rows.c.line)))
    StatusCount.apply(connection, Counter({(org_id, s): n for s, n in counts.items()}))
    to_queue = (sa.select(*(rows.c[column.name] for column in QUEUE_COLUMNS)).where(queues)
                .subquery("to_queue"))
    queued = queue_issued(connection, to_queue, user_id, now)
    per_group = connection.execute(
        sa.select(GROUPS.c.id, sa.func.count()).select_from(rows)
        .join(GROUPS, sa.and_(GROUPS.c.org_id == org_id, GROUPS.c.name == rows.c.group_name))
        .group_by(GROUPS.c.id))
    counting.add(connection, FunnelCount,
                 {(org_id, group_id, "credentials"): n for group_id, n in per_group})
    return {"issued": sum(counts.values()), "queued": queued}


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
    """Create the groups the rows name that the organization does not have yet."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    known = sa.select(GROUPS.c.id).where(GROUPS.c.org_id == org_id,
                                         GROUPS.c.name == rows.c.group_name)
    connection.execute(insert(GROUPS).from_select(
        ["org_id", "name", "created_at"],
        sa.select(sa.literal(org_id), rows.c.group_name, at(now))
        .where(~known.exists()).distinct()).on_conflict_do_nothing())


def staged(new_credentials):
    """NewCredentials as one set of rows for issue(), each with fresh tokens."""
    rows = [(c.name, c.email, c.group, c.action, c.scheduled_at, c.send_email, line,
             new_token(), new_message_id() if c.email else None, new_token() if c.email else None,
             new_public_id(), c.expires_at)
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
