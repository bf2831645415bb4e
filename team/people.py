"""The people of an organization: invite, change a role, remove; an organization always
keeps an owner."""

import sqlalchemy as sa

import audit
from models import ApiKey, Organization, User, db
from models.states import Role, TokenPurpose
from models.types import utcnow
from team import links
from validation import InvalidInput, clean_email


class Conflict(Exception):
    """A change the team's rules refuse (409): the message says why."""


def clean_role(value):
    """One of the roles."""
    if value not in list(Role):
        raise InvalidInput("role must be one of " + ", ".join(Role) + ".")
    return Role(value)


def of_org(org_id):
    """The organization's people, owners first, the removed left out."""
    order = sa.case({role.value: rank for rank, role in enumerate(reversed(Role))},
                    value=User.role)
    return db.session.scalars(sa.select(User).where(
        User.org_id == org_id, User.removed_at.is_(None)).order_by(order, User.email)).all()


def find(org_id, user_id):
    """A person of the organization still here, or None."""
    return db.session.scalar(sa.select(User).where(
        User.org_id == org_id, User.id == user_id, User.removed_at.is_(None)))


def invite(org_id, address, role, by):
    """Add a person with a role and email them an invitation; return them. An address
    of another organization, or of someone here already, is a Conflict."""
    address = clean_email(address)
    if address is None:
        raise InvalidInput("email is required.")
    address, role = address.lower(), clean_role(role)
    person = db.session.scalar(sa.select(User).where(User.email == address))
    if person is not None and person.org_id != org_id:
        raise Conflict("That address has an account in another organization.")
    if person is not None and person.removed_at is None:
        raise Conflict(f"{address} is in your organization already.")
    now = utcnow()
    if person is None:
        person = User(org_id=org_id, email=address)
        db.session.add(person)
    # Someone removed before comes back as a newcomer: a new role, no old password.
    person.role, person.invited_at, person.joined_at = role, now, None
    person.removed_at, person.password_hash = None, None
    db.session.flush()
    links.send(db.session.connection(), person, TokenPurpose.INVITATION, by.id, now)
    audit.record("person.invite", changes={"email": address, "role": role})
    return person


def join_by_sso(address, org_name, role):
    """The person an identity provider signed in with this verified address: one of
    org_name's, or a newcomer to it with the role. Someone of another organization, or
    removed from this one, is a Conflict."""
    address = clean_email(address if isinstance(address, str) else None)
    if address is None:
        raise InvalidInput("The identity provider gave no email address.")
    org = db.session.scalar(sa.select(Organization).filter_by(name=org_name))
    if org is None:
        raise Conflict("Single sign-on is not set up here yet (OIDC_ORG names no "
                       "organization): ask the administrator.")
    address = address.lower()
    person = db.session.scalar(sa.select(User).where(User.email == address))
    if person is not None and person.org_id != org.id:
        raise Conflict(f"{address} belongs to another organization here: log in with its "
                       "password.")
    if person is not None and person.removed_at is not None:
        raise Conflict(f"{address} was removed from {org.name}: ask an owner to invite you "
                       "again.")
    if person is None:
        person = User(org=org, email=address, role=clean_role(role), joined_at=utcnow())
        db.session.add(person)
        db.session.flush()
        audit.record("person.join", changes={"email": address, "role": person.role,
                                             "via": "sso"}, person=person)
    elif person.joined_at is None:  # invited, and signed in instead of setting a password
        person.joined_at = utcnow()
    return person


def _other_owners(person):
    return db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.org_id == person.org_id, User.role == Role.OWNER, User.removed_at.is_(None),
        User.id != person.id))


def change_role(person, role):
    """Give the person another role; the last owner stays an owner."""
    role = clean_role(role)
    if person.role == Role.OWNER and role != Role.OWNER and not _other_owners(person):
        raise Conflict("The organization's last owner stays an owner: make someone else "
                       "an owner first.")
    if role != person.role:
        audit.record("person.role", changes={"email": person.email,
                                             "role": [person.role, role]})
        person.role = role


def remove(person):
    """Remove the person: their sessions and API keys end at once; the last owner stays."""
    if person.role == Role.OWNER and not _other_owners(person):
        raise Conflict("The organization's last owner cannot be removed: make someone else "
                       "an owner first.")
    now = utcnow()
    person.removed_at = now
    person.end_sessions()
    db.session.execute(sa.update(ApiKey).where(ApiKey.user_id == person.id,
                                               ApiKey.revoked_at.is_(None))
                       .values(revoked_at=now))
    audit.record("person.remove", changes={"email": person.email, "role": person.role})
