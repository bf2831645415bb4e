"""Each organization's signing keys: an Ed25519 key made with the organization (or on first
use, for one made before), a new one on rotation; the newest signs, every one stays
published in the issuer profile.

With KEY_ENCRYPTION_KEY set, a private key is stored encrypted (Fernet, from cryptography)
and decrypted only in memory; `flask keys encrypt` encrypts the keys stored before it was.
"""

import base64
import copy
import functools
import hashlib

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from models import SigningKey, db, write_transaction
from models.types import utcnow

KEYS = SigningKey.__table__
ALGORITHM = "EdDSA"  # Ed25519, as Open Badges 3.0 verifiers know it
ENCRYPTED = "fernet:"
# RFC 9864 names this algorithm "Ed25519" now and joserfc warns about "EdDSA" on every use;
# verifiers of Open Badges still expect "EdDSA", so it is used without the warning.
_EDDSA = copy.copy(JWSRegistry.algorithms[ALGORITHM])
_EDDSA.security_warning = None


class _Registry(JWSRegistry):
    algorithms = {ALGORITHM: _EDDSA}


REGISTRY = _Registry(algorithms=[ALGORITHM])


class KeyUnavailable(RuntimeError):
    """A stored private key cannot be read: KEY_ENCRYPTION_KEY is missing or wrong."""


def _fernet(secret):
    """Fernet with a key made from the operator's secret (any long random string)."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def seal(pem):
    """A private key as it is stored: encrypted when KEY_ENCRYPTION_KEY is set."""
    secret = current_app.config["KEY_ENCRYPTION_KEY"]
    if not secret:
        return pem
    return ENCRYPTED + _fernet(secret).encrypt(pem.encode()).decode()


def _new_key(org_id, number):
    key = OKPKey.generate_key("Ed25519")
    public = key.as_dict(private=False)
    return {"org_id": org_id, "number": number, "algorithm": ALGORITHM,
            "private_key": seal(key.as_pem(private=True).decode()),
            "public_jwk": {name: public[name] for name in ("kty", "crv", "x")},
            "created_at": utcnow()}


def published_keys(org_id):
    """The organization's keys, oldest first (one is made if it has none yet)."""
    keys = db.session.execute(_STORED, {"org_id": org_id}).all()
    if keys:
        return keys
    # Read again under the write lock, in a transaction of its own (the session's may
    # hold an older snapshot): a request that made it meanwhile has its key used.
    try:
        with write_transaction() as connection:
            if not connection.execute(_STORED, {"org_id": org_id}).first():
                connection.execute(sa.insert(KEYS).values(_new_key(org_id, 1)))
            return connection.execute(_STORED, {"org_id": org_id}).all()
    except sa.exc.IntegrityError:  # PostgreSQL: another request inserted it just now
        with db.engine.connect() as connection:
            return connection.execute(_STORED, {"org_id": org_id}).all()


_STORED = sa.select(KEYS).where(KEYS.c.org_id == sa.bindparam("org_id")).order_by(KEYS.c.number)


def private(stored):
    """The private key as joserfc's, decrypted once per process."""
    return _loaded(stored, current_app.config["KEY_ENCRYPTION_KEY"])


@functools.lru_cache(maxsize=1024)
def _loaded(stored, secret):
    return OKPKey.import_key(unseal(stored, secret))


def unseal(stored, secret):
    """The PEM text of a stored private key, decrypted with the secret if it was sealed."""
    if not stored.startswith(ENCRYPTED):
        return stored
    try:
        return _fernet(secret or "").decrypt(stored[len(ENCRYPTED):]).decode()
    except InvalidToken:
        raise KeyUnavailable("The signing keys are encrypted with another "
                             "KEY_ENCRYPTION_KEY than the one set now.") from None


def rotate(connection, org_id):
    """Make a new signing key; what the older ones signed stays verifiable. Returns its
    number."""
    number = (connection.execute(sa.select(sa.func.max(KEYS.c.number))
                                 .where(KEYS.c.org_id == org_id)).scalar() or 0) + 1
    connection.execute(sa.insert(KEYS).values(_new_key(org_id, number)))
    return number


def encrypt_stored(connection):
    """Encrypt the private keys stored in plain text (KEY_ENCRYPTION_KEY must be set);
    returns how many."""
    plain = connection.execute(sa.select(KEYS.c.id, KEYS.c.private_key).where(
        ~KEYS.c.private_key.startswith(ENCRYPTED))).all()
    for key_id, pem in plain:
        connection.execute(sa.update(KEYS).where(KEYS.c.id == key_id)
                           .values(private_key=seal(pem)))
    return len(plain)
