"""Open Badges as VC-JWTs (joserfc): signed with the organization's newest key, checked
with the keys its issuer profile publishes."""

import functools
import json
from datetime import UTC, datetime

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from languages import N_
from openbadges import documents, keys

MEDIA_TYPE = "application/vc+jwt"


class NotVerified(ValueError):
    """The token's signature, issuer or shape does not check out: the reason in plain words
    (a catalog message, translated where it is shown), then the library's detail if any."""


def _epoch(text):
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def claims(document):
    """The JWT payload: the credential itself with the registered claims the VC-JWT
    mapping asks for (iss, jti, sub, nbf, exp)."""
    issuer = document["issuer"]
    subject = document["credentialSubject"]
    identity = (subject.get("identifier") or [{}])[0].get("identityHash")
    payload = {**document, "iss": issuer if isinstance(issuer, str) else issuer["id"],
               "jti": document["id"],
               # The subject has no id of its own: its hashed address stands for it.
               "sub": subject.get("id") or identity or document["id"],
               "nbf": _epoch(document["validFrom"])}
    if "validUntil" in document:
        payload["exp"] = _epoch(document["validUntil"])
    return payload


def sign(document, org, published=None):
    """The document as a compact VC-JWT signed with the organization's newest key (the last
    of its published keys, when the caller has read them already)."""
    newest = (published or keys.published_keys(org.id))[-1]
    number, stored = newest.number, newest.private_key
    header = {"alg": keys.ALGORITHM, "typ": "vc+jwt", "kid": documents.key_id(org, number)}
    return _signed(json.dumps(header), json.dumps(claims(document), ensure_ascii=False,
                                                  separators=(",", ":")), stored)


@functools.lru_cache(maxsize=4096)  # about 2 KB each
def _signed(header, payload, stored_key):
    """Made once per process for the same inputs: a credential's token until it changes."""
    return jws.serialize_compact(json.loads(header), payload.encode(), keys.private(stored_key),
                                 algorithms=[keys.ALGORITHM], registry=keys.REGISTRY)


@functools.lru_cache(maxsize=256)
def _key_set(public_keys):
    """joserfc's key set of these public keys (JSON), imported once per process."""
    return KeySet.import_key_set({"keys": json.loads(public_keys)})


def verify(token, org, published):
    """The payload of a token the organization signed with one of its published keys (rows
    of signing_keys), or NotVerified."""
    header, payload = _checked(token, json.dumps(
        [{**key.public_jwk, "kid": documents.key_id(org, key.number)} for key in published]))
    payload = json.loads(payload)
    if header.get("typ") != "vc+jwt" or payload.get("iss") != documents.issuer_id(org):
        raise NotVerified(N_("It is not a credential of this issuer."))
    return payload


@functools.lru_cache(maxsize=4096)
def _checked(token, public_keys):
    """(header, payload) of a token whose signature one of these public keys (JSON) checks.
    A pure function of its inputs, so kept per process: a page viewed again checks the
    same token against the same keys; a changed credential or key set is checked anew."""
    try:
        signed = jws.deserialize_compact(token, _key_set(public_keys),
                                         algorithms=[keys.ALGORITHM], registry=keys.REGISTRY)
    except (JoseError, ValueError) as error:
        raise NotVerified(N_("Its signature does not check out."), str(error)) from None
    return signed.headers(), signed.payload.decode()
