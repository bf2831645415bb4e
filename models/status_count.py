"""Per-organization counts of each email status, kept in step with the credentials.

The Credentials page shows these counts on every request; reading six rows instead of
counting the whole table keeps the page's cost to what it shows.
"""

from collections import Counter

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from models import db


class StatusCount(db.Model):
    __tablename__ = "status_counts"

    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"),
                                              primary_key=True)
    status: so.Mapped[str] = so.mapped_column(sa.String(12), primary_key=True)
    n: so.Mapped[int] = so.mapped_column(default=0)

    @staticmethod
    def shift(session, org_id, old, new):
        """Note that one credential moved from status old (None if new) to new."""
        deltas = session.info.setdefault("status_deltas", Counter())
        if old:
            deltas[(org_id, old)] -= 1
        deltas[(org_id, new)] += 1

    @classmethod
    def apply(cls, connection, deltas):
        """Add the noted changes in one upsert per row, in key order (no deadlocks)."""
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        for (org_id, status), delta in sorted(deltas.items()):
            if delta:
                statement = insert(cls).values(org_id=org_id, status=status, n=delta)
                connection.execute(statement.on_conflict_do_update(
                    index_elements=["org_id", "status"],
                    set_={"n": cls.__table__.c.n + statement.excluded.n}))

    @classmethod
    def rebuild(cls, org_id):
        """Recount from the credentials (after bulk writes that bypass the ORM)."""
        from models.credential import Credential

        db.session.execute(sa.delete(cls).where(cls.org_id == org_id))
        db.session.execute(sa.insert(cls).from_select(
            ["org_id", "status", "n"],
            sa.select(Credential.org_id, Credential.email_status, sa.func.count())
            .where(Credential.org_id == org_id)
            .group_by(Credential.org_id, Credential.email_status)))

    @classmethod
    def for_org(cls, org_id):
        """{status: count} for every status of the organization (zeros included)."""
        from models.status import EmailStatus

        counts = dict.fromkeys((s.value for s in EmailStatus), 0)
        counts.update(db.session.execute(
            sa.select(cls.status, cls.n).where(cls.org_id == org_id)).all())
        return counts

    def __repr__(self):
        return f"<StatusCount org={self.org_id} {self.status}={self.n}>"


@sa.event.listens_for(so.Session, "before_flush")
def _refresh_statuses(session, _context, _instances):
    """Re-derive the status of every credential whose inputs changed in this flush."""
    from models.credential import Credential
    from models.email_message import EmailMessage

    touched = set()
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Credential):
            touched.add(obj)
        elif isinstance(obj, EmailMessage) and obj.credential is not None:
            touched.add(obj.credential)
    for credential in touched:
        credential.refresh_email_status()


@sa.event.listens_for(so.Session, "after_flush")
def _apply_counts(session, _context):
    deltas = session.info.pop("status_deltas", None)
    if deltas:
        StatusCount.apply(session.connection(), deltas)


@sa.event.listens_for(so.Session, "after_rollback")
def _forget_counts(session):
    session.info.pop("status_deltas", None)

