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
from models.status import EmailStatus, email_status, status_sql


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
_LATEST = (sa.select(sa.func.max(_NEWEST.c.id))
           .where(_NEWEST.c.credential_id == CREDENTIALS.c.id)
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

    With sync_newest, the one place that changes a stored Credential.email_status; the
    rule itself is models.status.email_status. Returns {credential id: status}.
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


def sync_newest(connection, message_ids):
    """Re-derive the stored status of the credentials whose newest messages these are (a
    select of message ids: an import's emails, just queued) and shift the counts, in a few
    statements however many there are."""
    new = status_sql(CREDENTIALS.c.recipient_email.is_not(None), MESSAGES.c.state,
                     MESSAGES.c.opened_at.is_not(None))
    theirs = (sa.select(CREDENTIALS.c.id, CREDENTIALS.c.org_id, CREDENTIALS.c.email_status,
                        new.label("new"))
              .join(MESSAGES, MESSAGES.c.credential_id == CREDENTIALS.c.id)
              .where(MESSAGES.c.id.in_(message_ids.correlate(None))).subquery())
    deltas, changed = Counter(), set()
    for org_id, old, status, n in connection.execute(
            sa.select(theirs.c.org_id, theirs.c.email_status, theirs.c.new, sa.func.count())
            .where(theirs.c.email_status != theirs.c.new)
            .group_by(theirs.c.org_id, theirs.c.email_status, theirs.c.new)):
        deltas[(org_id, old)] -= n
        deltas[(org_id, status)] += n
        changed.add(status)
    for status in changed:  # one statement per new status, however many rows
        connection.execute(sa.update(CREDENTIALS).where(CREDENTIALS.c.id.in_(
            sa.select(theirs.c.id).where(theirs.c.new == status,
                                         theirs.c.email_status != status)))
            .values(email_status=status))
    StatusCount.apply(connection, deltas)
