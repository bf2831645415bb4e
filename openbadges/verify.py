"""What the public page tells a visitor: the credential checked as any verifier would check
its Open Badge (the signature against the issuer profile's keys, the signed status list,
the dates), not only what the database says."""

from typing import NamedTuple

from languages import N_
from models.types import utcnow
from openbadges import documents, keys, signing, status


class Verdict(NamedTuple):
    """verified, revoked, expired or failed, and why when it failed (a catalog message)."""

    outcome: str
    why: str | None = None


def check(credential, now=None):
    """Check the credential's signed Open Badge now."""
    now = now or utcnow()
    org = credential.org
    published = keys.published_keys(org.id)
    try:
        payload = signing.verify(signing.sign(documents.open_badge(credential), org, published),
                                 org, published)
        entry = payload["credentialStatus"]
        prefix = documents.status_list_url(org, "")
        number = entry["statusListCredential"].removeprefix(prefix)
        if not entry["statusListCredential"].startswith(prefix) or not number.isdigit():
            return Verdict("failed", N_("Its status list is not this issuer's."))
        status_list = signing.verify(status.token(org, int(number), published), org,
                                     published)
        bits = status.decode(status_list["credentialSubject"]["encodedList"])
        revoked = status.is_set(bits, int(entry["statusListIndex"]))
    except signing.NotVerified as error:
        return Verdict("failed", error.args[0])
    if revoked:
        return Verdict("revoked")
    moment = now.timestamp()
    if payload["nbf"] > moment:
        return Verdict("failed", N_("It is not valid yet."))
    if "exp" in payload and payload["exp"] <= moment:
        return Verdict("expired")
    return Verdict("verified")
