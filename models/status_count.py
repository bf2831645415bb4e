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
from models.status import EmailStatus, email_status


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
    with its first one); the rule itself is models.status.email_status. Returns
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

