"""The Open Badges 3.0 documents (1EdTech, on the W3C Verifiable Credentials Data Model
2.0): a credential as an OpenBadgeCredential, its issuer's profile, its achievement, and
an organization's revocation list as a BitstringStatusListCredential (DESIGN.md)."""

import hashlib

from flask import current_app

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
# The places in one status list: the least the W3C recommendation allows (16 KB of bits,
# about 50 bytes once compressed while few are set), so a list says little about how many
# credentials an organization issued.
LIST_SIZE = 131_072


def _base():
    return current_app.config["PUBLIC_BASE_URL"]


def _time(moment):
    """XML Schema dateTime in UTC, to the second, as VC documents write it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def credential_url(credential):
    """The credential's id: its public verification page."""
    return f"{_base()}/v/{credential.public_id}"


def issuer_id(org):
    return f"{_base()}/issuers/{org.public_id}"


def key_id(org, number):
    """The verification method id of the organization's key with that number."""
    return f"{issuer_id(org)}#key-{number}"


def status_list_url(org, number):
    return f"{_base()}/status/{org.public_id}/{number}"


def achievement_id(group, org):
    return f"{issuer_id(org)}/achievements/{group.id}"


def badge_image_url(group, org):
    return f"{_base()}/brand/{org.public_id}/groups/{group.id}.png?v={group.image_version}"


def recipient_identity(address, public_id):
    """The recipient's address as a salted hash: verifiers who know the address can match
    it; others learn nothing. The salt is the credential's own, made from its public id
    (it is published beside the hash, so it needs no secret), and stays the same."""
    salt = hashlib.sha256(f"salt:{public_id}".encode()).hexdigest()[:32]
    digest = hashlib.sha256((address + salt).encode()).hexdigest()
    return {"type": "IdentityObject", "identityType": "emailAddress", "hashed": True,
            "identityHash": f"sha256${digest}", "salt": salt}


def achievement(group, org):
    """The group as the achievement its credentials award."""
    narrative = (group.criteria or "").strip() or (
        f"Awarded by {org.name} to each recipient of {group.name}.")
    document = {"@context": [VC_CONTEXT, OB_CONTEXT], "id": achievement_id(group, org),
                "type": ["Achievement"], "name": group.name,
                "description": group.description or "", "criteria": {"narrative": narrative}}
    if group.image_width:
        document["image"] = {"id": badge_image_url(group, org), "type": "Image",
                             "caption": group.name}
    return document


def issuer_profile(org, keys):
    """The issuer's profile with every key it signed with (keys: rows of signing_keys)."""
    issuer = issuer_id(org)
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT], "id": issuer, "type": ["Profile"],
        "name": org.name, "url": _base(),
        "verificationMethod": [{"id": key_id(org, key.number), "type": "JsonWebKey",
                                "controller": issuer, "publicKeyJwk": key.public_jwk}
                               for key in keys],
    }


def open_badge(credential):
    """The published credential as an OpenBadgeCredential (no proof: signing adds it)."""
    org, group = credential.org, credential.group
    subject = {"type": ["AchievementSubject"], "name": credential.recipient_name}
    if credential.recipient_email:
        subject["identifier"] = [recipient_identity(credential.recipient_email,
                                                    credential.public_id)]
    subject["achievement"] = {key: value for key, value in achievement(group, org).items()
                              if key != "@context"}
    number, place = divmod(credential.status_index, LIST_SIZE)
    document = {
        "@context": [VC_CONTEXT, OB_CONTEXT], "id": credential_url(credential),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer_id(org), "type": ["Profile"], "name": org.name},
        "validFrom": _time(credential.published_at),
    }
    if credential.expires_at:
        document["validUntil"] = _time(credential.expires_at)
    document |= {
        "name": group.name, "credentialSubject": subject,
        "credentialStatus": {
            "id": f"{status_list_url(org, number)}#{place}", "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation", "statusListIndex": str(place),
            "statusListCredential": status_list_url(org, number)},
    }
    return document


def status_list(org, number, encoded_list, valid_from):
    """The organization's status list number as a BitstringStatusListCredential."""
    url = status_list_url(org, number)
    return {
        "@context": [VC_CONTEXT], "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id(org), "validFrom": _time(valid_from),
        "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList",
                              "statusPurpose": "revocation", "encodedList": encoded_list},
    }
