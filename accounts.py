"""Issuer accounts: the organization they belong to, and how they are created."""

import sqlalchemy as sa

from models import Organization, User, db, write_lock
from openbadges import keys


def create_user(email, org_name, password):
    """Create an owner in the named organization (created if new), committed."""
    write_lock()  # SQLite: it reads, then writes; no other writer may come between
    org = db.session.scalar(sa.select(Organization).filter_by(name=org_name))
    if org is None:
        org = Organization(name=org_name)
        db.session.add(org)
        db.session.flush()
        # Its signing key now, so that no stranger's request ever has to write one.
        keys.rotate(db.session.connection(), org.id)
    user = User(email=email, org=org)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user
