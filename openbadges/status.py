"""Revocation published as W3C Bitstring Status Lists: each credential has a place in its
organization's lists (credentials.status_index); its bit is set while it is revoked."""

import base64
import functools
import gzip

import sqlalchemy as sa

from models import Credential, db
from openbadges import documents, signing

CREDENTIALS = Credential.__table__


def encode(places, size=documents.LIST_SIZE):
    """The multibase (u: base64url, no padding) of the GZIP of a bitstring of size bits with
    these places set; bit 0 is the most significant bit of the first byte."""
    bits = bytearray(size // 8)
    for place in places:
        bits[place // 8] |= 0x80 >> (place % 8)
    # mtime=0: the same bits always give the same text (and so the same signed list).
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


@functools.lru_cache(maxsize=256)
def decode(encoded):
    """The bitstring an encodedList holds (its multibase and GZIP undone), kept per process
    for the same text."""
    if not encoded.startswith("u"):
        raise ValueError("The list is not multibase base64url (prefix u).")
    text = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def is_set(bits, place):
    return bool(bits[place // 8] & (0x80 >> (place % 8)))


def lists(org):
    """How many status lists the organization has (one for each LIST_SIZE places taken)."""
    return max(1, -(-org.status_next // documents.LIST_SIZE))


@functools.lru_cache(maxsize=256)
def _encoded(org_id, org_public_id, number, version):
    """The encoded list as it was at this status version (each revocation makes a new
    version: timeline.record bumps it), read once per process. The public id keeps another
    database's organization of the same id and version (tests, a restore) apart."""
    first = number * documents.LIST_SIZE
    places = db.session.scalars(sa.select(CREDENTIALS.c.status_index).where(
        CREDENTIALS.c.org_id == org_id, CREDENTIALS.c.revoked_at.is_not(None),
        CREDENTIALS.c.status_index >= first,
        CREDENTIALS.c.status_index < first + documents.LIST_SIZE))
    return encode(place - first for place in places)


def token(org, number, published=None):
    """The organization's status list number as a signed BitstringStatusListCredential
    (signed with the last of its published keys, when the caller has read them)."""
    document = documents.status_list(org, number, _encoded(org.id, org.public_id, number,
                                                           org.status_version),
                                     org.created_at)
    return signing.sign(document, org, published)
