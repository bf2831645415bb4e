"""The stored status of each credential and the per-organization counts, kept in step.

The Credentials page filters by status and shows the counts on every request; reading a
stored column and six rows instead of deriving and counting the whole table keeps the
page's cost to what it shows. Every event that changes a status input (the address, a
new message, a message's state or first open) has them re-derived here, by the recorder
(timeline.record), in its transaction.
"""

from collections import Counter

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.counting import add
from models.credential import Credential
from models.email_message import EmailMessage
from models.states import MessageState
from models.status import EmailStatus, email_status, email_status_sql


class StatusCount(db.Model):
    __tablename__ = "status_counts"

    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"),
                                              primary_key=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(12), primary_key=True)
    n: so.Mapped[int] = so.mapped_column(default=0)

    @classmethod
    def apply(cls, connection, deltas):
        """Add {(org id, status): change} to the counts."""
        add(connection, cls, deltas)

    @classmethod
    def for_org(cls, org_id):
        """{status: count} for every status of the organization (zeros included)."""
        counts = dict.fromkeys((s.value for s in EmailStatus), 0)
        counts.update(db.session.execute(
            sa.select(cls.status, cls.n).where(cls.org_id == org_id)).all())
        return counts

    def __repr__(self):
        return f"<StatusCount org={self.org_id} {self.status}={self.n}>"


CREDENTIALS, MESSAGES = Credential.__table__, EmailMessage.__table__
_NEWEST = MESSAGES.alias("newest")  # the latest message is the one with the highest id
# (a message cancelled before it was sent is none the status follows)
_LATEST = (sa.select(sa.func.max(_NEWEST.c.id))
           .where(_NEWEST.c.credential_id == CREDENTIALS.c.id,
                  _NEWEST.c.state != MessageState.CANCELLED)
           .correlate(CREDENTIALS).scalar_subquery())
# The status inputs of some credentials (their address and latest message), and the update
# of their stored status: built once, so SQLAlchemy reuses the compiled SQL.
_INPUTS = (sa.select(CREDENTIALS.c.id, CREDENTIALS.c.org_id, CREDENTIALS.c.recipient_email,
                     CREDENTIALS.c.email_status, MESSAGES.c.state, MESSAGES.c.opened_at)
           .select_from(CREDENTIALS.outerjoin(MESSAGES, MESSAGES.c.id == _LATEST))
           .where(CREDENTIALS.c.id.in_(sa.bindparam("ids", expanding=True))))
_STORE = (sa.update(CREDENTIALS)
          .where(CREDENTIALS.c.id.in_(sa.bindparam("ids", expanding=True)))
          .values(email_status=sa.bindparam("status")))


def sync_statuses(connection, credential_ids):
    """Re-derive the stored status of these credentials and shift the counts to match.

    The one place that changes a stored Credential.email_status (a credential is written
    with its first one), with derived() below for the recorder's one statement
    (timeline.record_sent); the rule itself is models.status.RULE. Returns
    {credential id: status}.
    """
    statuses, changed, deltas = {}, {}, Counter()
    for row in connection.execute(_INPUTS, {"ids": list(credential_ids)}):
        status = email_status(bool(row.recipient_email), row.state, row.opened_at is not None)
        if status != row.email_status:
            changed.setdefault(status, []).append(row.id)
            deltas[(row.org_id, row.email_status)] -= 1
            deltas[(row.org_id, status)] += 1
        statuses[row.id] = status
    for status, ids in changed.items():  # one statement per new status, however many rows
        connection.execute(_STORE, {"ids": ids, "status": status})
    StatusCount.apply(connection, deltas)
    return statuses


def derived(changed):
    """SQL: each credential's stored status ("old") and the one it derives ("new"), with
    its org_id and group_id, for a statement that also writes some messages: changed, a CTE
    of those messages (id, state, opened_at) as the statement leaves them. Every part of one
    statement reads the rows as they were before it, so a message it changes is read from
    changed, its open too (one committed while the statement waited for the row is there
    only); the latest message may be another one, as a resend queued after. Messages must
    not enter or leave the cancelled state in changed (the latest is chosen from the rows
    as they were)."""
    latest = MESSAGES.alias("latest")
    new = changed.c.id.is_not(None)
    state = sa.case((new, changed.c.state), else_=latest.c.state)
    opened_at = sa.case((new, changed.c.opened_at), else_=latest.c.opened_at)
    has_address = sa.func.coalesce(CREDENTIALS.c.recipient_email, "") != ""
    return (sa.select(CREDENTIALS.c.id, CREDENTIALS.c.org_id, CREDENTIALS.c.group_id,
                      CREDENTIALS.c.email_status.label("old"),
                      email_status_sql(has_address, state, opened_at.is_not(None)).label("new"))
            .select_from(CREDENTIALS.outerjoin(latest, latest.c.id == _LATEST)
                         .outerjoin(changed, changed.c.id == latest.c.id)))
