"""Open Badges 3.0 checked without the app's code: the VC-JWT decoded by hand, its key found
through the issuer profile, its signature checked with `cryptography`, its status list
decoded as DESIGN.md says; key rotation and keys encrypted at rest."""

import base64
import gzip
import hashlib
import json

import pytest
import sqlalchemy as sa
from conftest import issue
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from models import SigningKey, db
from openbadges.keys import KeyUnavailable

BASE = "http://127.0.0.1:5000"  # PUBLIC_BASE_URL in tests
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fetch(client, url, media_type="application/json"):
    """GET one of our absolute URLs through the test client."""
    assert url.startswith(BASE + "/"), url
    response = client.get(url.removeprefix(BASE))
    assert response.status_code == 200, (url, response.status_code)
    assert response.headers["Content-Type"].startswith(media_type)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    return response


def verified(client, token):
    """The payload of a VC-JWT checked as an outside verifier would: the kid resolved
    through the issuer profile the payload names, the Ed25519 signature by `cryptography`."""
    header_part, payload_part, signature_part = token.split(".")
    header, payload = json.loads(b64url(header_part)), json.loads(b64url(payload_part))
    assert header["alg"] == "EdDSA" and header["typ"] == "vc+jwt"
    issuer, _, fragment = header["kid"].partition("#")
    assert issuer == payload["iss"] and fragment.startswith("key-")
    profile = fetch(client, issuer).json
    assert profile["id"] == issuer and profile["type"] == ["Profile"]
    (method,) = [m for m in profile["verificationMethod"] if m["id"] == header["kid"]]
    assert method["type"] == "JsonWebKey" and method["controller"] == issuer
    jwk = method["publicKeyJwk"]
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519") and "d" not in jwk
    key = Ed25519PublicKey.from_public_bytes(b64url(jwk["x"]))
    key.verify(b64url(signature_part), f"{header_part}.{payload_part}".encode())
    return payload


def revoked_bit(client, entry):
    """The credential's bit in the signed status list its credentialStatus names."""
    assert entry["type"] == "BitstringStatusListEntry"
    assert entry["statusPurpose"] == "revocation"
    listed = verified(client, fetch(client, entry["statusListCredential"],
                                    "application/vc+jwt").text)
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["id"] == listed["jti"] == entry["statusListCredential"]
    encoded = listed["credentialSubject"]["encodedList"]
    assert encoded[0] == "u" and "=" not in encoded
    bits = gzip.decompress(b64url(encoded[1:]))
    assert len(bits) * 8 >= 131_072
    place = int(entry["statusListIndex"])
    return bool(bits[place // 8] & (0x80 >> (place % 8)))  # bit 0: the first byte's MSB


def test_the_signed_credential_verifies_anywhere_and_shows_a_revocation(client, issuer, api):
    credential = issue(issuer, name="Ada Lovelace", email="ada@example.com", action="publish")
    issue(issuer, name="Alan Turing", email="alan@example.com", action="publish")
    response = fetch(client, f"{BASE}/v/{credential.public_id}/credential.jwt",
                     "application/vc+jwt")
    payload = verified(client, response.text)

    public_url = f"{BASE}/v/{credential.public_id}"
    assert payload["@context"] == [VC_CONTEXT, OB_CONTEXT]
    assert payload["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert payload["id"] == payload["jti"] == public_url
    assert payload["issuer"]["id"] == payload["iss"] and payload["issuer"]["type"] == ["Profile"]
    assert payload["issuer"]["name"] == "Acme Academy" and payload["name"] == "Course A"
    assert payload["nbf"] == int(credential.published_at.timestamp())
    assert "exp" not in payload and "validUntil" not in payload
    subject = payload["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"] and subject["name"] == "Ada Lovelace"
    (identity,) = subject["identifier"]
    assert identity["identityType"] == "emailAddress" and identity["hashed"] is True
    assert identity["identityHash"] == "sha256$" + hashlib.sha256(
        ("ada@example.com" + identity["salt"]).encode()).hexdigest()
    assert payload["sub"] == identity["identityHash"]
    achievement = subject["achievement"]
    assert achievement["type"] == ["Achievement"] and achievement["name"] == "Course A"
    assert achievement["description"] == "" and achievement["criteria"]["narrative"]
    assert fetch(client, achievement["id"]).json["name"] == "Course A"
    # The JSON form is the same credential.
    as_json = fetch(client, f"{public_url}/credential.json").json
    assert as_json == {k: v for k, v in payload.items()
                       if k not in ("iss", "jti", "sub", "nbf", "exp")}

    assert revoked_bit(client, payload["credentialStatus"]) is False
    answer = api.post(f"/api/v1/credentials/{credential.id}/revoke",
                      json={"reason": "Issued to the wrong person"})
    assert answer.status_code == 200 and answer.json["revocation_reason"]
    assert revoked_bit(client, payload["credentialStatus"]) is True
    other = verified(client, client.get(f"/v/{issue(issuer, action='publish').public_id}"
                                        "/credential.jwt").text)
    assert revoked_bit(client, other["credentialStatus"]) is False
    api.post(f"/api/v1/credentials/{credential.id}/reinstate")
    assert revoked_bit(client, payload["credentialStatus"]) is False

    # A payload changed after signing does not verify.
    header_part, payload_part, signature_part = response.text.split(".")
    forged = dict(payload, name="Doctorate")
    forged_part = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        verified(client, f"{header_part}.{forged_part}.{signature_part}")


def test_an_expiring_credential_carries_its_end(client, issuer, api):
    created = api.post("/api/v1/credentials", json={
        "recipient_name": "Ada", "recipient_email": "ada@example.com", "group": "First aid",
        "action": "publish", "expires_at": "2030-01-31T09:00:00+01:00"})
    assert created.status_code == 201 and created.json["expires_at"].startswith("2030-01-31T08")
    public_id = db.session.scalar(sa.text("SELECT public_id FROM credentials"))
    payload = verified(client, client.get(f"/v/{public_id}/credential.jwt").text)
    assert payload["validUntil"] == "2030-01-31T08:00:00Z"
    assert payload["exp"] == 1896076800


def test_old_keys_stay_published_after_a_rotation(app, client, issuer, runner):
    credential = issue(issuer, action="publish")
    before = client.get(f"/v/{credential.public_id}/credential.jwt").text
    result = runner.invoke(args=["keys", "rotate", "Acme Academy"])
    assert result.exit_code == 0 and "key-2" in result.output
    after = client.get(f"/v/{credential.public_id}/credential.jwt").text
    assert json.loads(b64url(after.split(".")[0]))["kid"].endswith("#key-2")
    assert verified(client, before) == verified(client, after)  # both keys check out
    assert runner.invoke(args=["keys", "rotate", "Nobody"]).exit_code != 0


def test_private_keys_are_encrypted_at_rest_when_a_secret_is_set(app, client, issuer, runner):
    credential = issue(issuer, action="publish")
    stored = db.session.scalar(sa.select(SigningKey.private_key))
    assert "PRIVATE KEY" in stored  # made before the secret was set
    assert runner.invoke(args=["keys", "encrypt"]).exit_code != 0  # no secret: refused
    app.config["KEY_ENCRYPTION_KEY"] = "a long random secret for the keys"
    result = runner.invoke(args=["keys", "encrypt"])
    assert result.exit_code == 0 and "Encrypted 1 key" in result.output
    runner.invoke(args=["keys", "rotate", "Acme Academy"])
    db.session.rollback()  # end the snapshot: see what the commands wrote
    for key in db.session.scalars(sa.select(SigningKey.private_key)):
        assert key.startswith("fernet:") and "PRIVATE" not in key
    token = client.get(f"/v/{credential.public_id}/credential.jwt").text
    verified(client, token)
    app.config["KEY_ENCRYPTION_KEY"] = "another secret"
    with pytest.raises(KeyUnavailable, match="another KEY_ENCRYPTION_KEY"):
        client.get(f"/v/{issue(issuer, action='publish').public_id}/credential.jwt")


def test_unknown_issuers_lists_and_drafts_are_404(client, issuer):
    draft = issue(issuer)
    published = issue(issuer, action="publish")
    org_id = published.org.public_id
    for path in [f"/v/{draft.public_id}/credential.jwt", f"/v/{draft.public_id}/credential.json",
                 "/v/nothing/credential.jwt", "/issuers/nothing", f"/status/{org_id}/1",
                 "/status/nothing/0", f"/issuers/{org_id}/achievements/999",
                 f"/v/{'x' * 65}/credential.jwt"]:
        assert client.get(path).status_code == 404, path
