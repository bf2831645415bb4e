"""Per-organization counts of each email status, kept in step with the credentials.

The Credentials page shows these counts on every request; reading six rows instead of
counting the whole table keeps the page's cost to what it shows.
"""

import functools
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

    @classmethod
    def apply(cls, connection, deltas):
        """Add the noted changes, one upsert per row, in key order (no deadlocks)."""
        rows = [{"org_id": org_id, "status": status, "n": delta}
                for (org_id, status), delta in sorted(deltas.items()) if delta]
        if rows:
            connection.execute(_upsert(connection.dialect.name), rows)

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


@functools.cache
def _upsert(dialect):
    """INSERT … ON CONFLICT DO UPDATE adding n, built once per dialect."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(StatusCount)
    return statement.on_conflict_do_update(
        index_elements=["org_id", "status"],
        set_={"n": StatusCount.__table__.c.n + statement.excluded.n})


@functools.cache
def _sync_statements():
    """The status inputs of some credentials (their address and latest message), and the
    update of their stored status: built once, so SQLAlchemy reuses the compiled SQL."""
    from models.credential import Credential
    from models.email_message import EmailMessage

    credentials, messages = Credential.__table__, EmailMessage.__table__
    newest = messages.alias("newest")  # the latest message is the one with the highest id
    latest = (sa.select(sa.func.max(newest.c.id)).where(newest.c.credential_id == credentials.c.id)
              .correlate(credentials).scalar_subquery())
    inputs = (sa.select(credentials.c.id, credentials.c.org_id, credentials.c.recipient_email,
                        credentials.c.email_status, messages.c.state, messages.c.opened_at)
              .select_from(credentials.outerjoin(messages, messages.c.id == latest))
              .where(credentials.c.id.in_(sa.bindparam("ids", expanding=True))))
    update = (sa.update(credentials).where(credentials.c.id == sa.bindparam("credential_id"))
              .values(email_status=sa.bindparam("status")))
    return inputs, update


def sync_statuses(connection, credential_ids, new_ids=()):
    """Re-derive the stored status of these credentials and shift the counts to match.

    The one place that writes Credential.email_status, for ORM flushes and the queue's
    Core writes alike; the rule itself is models.status.email_status. Returns
    {credential id: status}.
    """
    from models.status import email_status

    inputs, update = _sync_statements()
    statuses, changed, deltas = {}, [], Counter()
    for row in connection.execute(inputs, {"ids": list(credential_ids)}):
        status = email_status(row, row if row.state is not None else None).value
        stored = None if row.id in new_ids else row.email_status
        if status != stored:
            if stored:
                deltas[(row.org_id, stored)] -= 1
            deltas[(row.org_id, status)] += 1
        if status != row.email_status:
            changed.append({"credential_id": row.id, "status": status})
        statuses[row.id] = status
    if changed:
        connection.execute(update, changed)
    StatusCount.apply(connection, deltas)
    return statuses


@sa.event.listens_for(so.Session, "before_flush")
def _note_touched(session, _context, _instances):
    """Note the credentials whose status inputs this flush changes (and which are new)."""
    from models.credential import Credential
    from models.email_message import EmailMessage

    touched = session.info.setdefault("status_touched", {})
    for obj in list(session.new) + list(session.dirty):
        credential = obj if isinstance(obj, Credential) else (
            obj.credential if isinstance(obj, EmailMessage) else None)
        if credential is not None:
            touched[credential] = touched.get(credential, False) or credential in session.new


@sa.event.listens_for(so.Session, "after_flush")
def _sync_touched(session, _context):
    touched = session.info.pop("status_touched", None)
    if touched:
        statuses = sync_statuses(session.connection(), [c.id for c in touched],
                                 {c.id for c, new in touched.items() if new})
        for credential in touched:
            so.attributes.set_committed_value(credential, "email_status",
                                              statuses[credential.id])


@sa.event.listens_for(so.Session, "after_rollback")
def _forget_touched(session):
    session.info.pop("status_touched", None)
