"""DKIM signatures (dkimpy): each organization's own key for its verified domain, and the
default sender's key from the settings (DESIGN.md, "Deliverability").

A message is signed once, off the database transaction (mailer.queue); a retry sends the
bytes signed the first time (SignedMail, kept in models.SignedMessage until it is done).
"""

import base64
import functools
from pathlib import Path
from typing import NamedTuple

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from flask import current_app

from models.organization import address_domain
from openbadges.keys import seal, unseal

# Always signed, present or not (a From added later breaks the signature); DESIGN.md's list.
SIGNED = (b"from", b"to", b"subject", b"date", b"message-id")
# Signed when the message has them: what a reader sees, and how it unsubscribes.
SIGNED_WHEN_PRESENT = (b"reply-to", b"sender", b"mime-version", b"content-type",
                       b"list-unsubscribe", b"list-unsubscribe-post")


class Signer(NamedTuple):
    """Who signs: the DNS selector and domain (d=) of a private key (PEM bytes)."""

    selector: bytes
    domain: bytes
    pem: bytes


class ConfigError(ValueError):
    """DKIM_PRIVATE_KEY, DKIM_SELECTOR and DKIM_DOMAIN do not make a signer."""


# Keys --------------------------------------------------------------------------------------


def new_key():
    """A new RSA 2048 private key as PEM text (RSA: every receiver checks it; Ed25519 DKIM,
    RFC 8463, is not checked by all of them yet)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def give_key(org, now):
    """Make the organization's DKIM key if it has none (not committed). Its selector names
    the month it was made, so a later key can be published beside it."""
    if not org.dkim_selector:
        org.dkim_selector = f"ct{now:%Y%m}"
        org.dkim_private_key = seal(new_key())
        org.dkim_found_at = None


def public_key_text(pem):
    """The public half of a PEM private key, base64 DER, as a DKIM record's p= carries it."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def record_name(selector, domain):
    """The name the DKIM TXT record goes at."""
    return f"{selector}._domainkey.{domain}"


def unseal_key(org, config):
    """The organization's DKIM private key as PEM text."""
    return unseal(org.dkim_private_key, config["KEY_ENCRYPTION_KEY"])


def record_value(org):
    """The TXT record the organization publishes for its key."""
    return f"v=DKIM1; k=rsa; p={public_key_text(unseal_key(org, current_app.config))}"


def published_key(texts):
    """The p= of the DKIM record among TXT texts, without its spaces, or None."""
    for text in texts:
        tags = dict(part.strip().partition("=")[::2] for part in text.split(";") if "=" in part)
        if tags.get("v", "DKIM1").strip() == "DKIM1" and "p" in tags:
            return "".join(tags["p"].split())
    return None


# Who signs ----------------------------------------------------------------------------------


def default_signer(config):
    """The default sender's Signer from the settings, None when they are unset; ConfigError
    when they are set but do not make one (checked at start)."""
    pem, selector, domain = (config.get(name) for name in (
        "DKIM_PRIVATE_KEY", "DKIM_SELECTOR", "DKIM_DOMAIN"))
    if not (pem or selector or domain):
        return None
    if not (pem and selector and domain):
        raise ConfigError("set DKIM_PRIVATE_KEY, DKIM_SELECTOR and DKIM_DOMAIN together.")
    if "-----BEGIN" not in pem:
        try:
            pem = Path(pem).read_text()
        except OSError as error:
            raise ConfigError(f"DKIM_PRIVATE_KEY: cannot read {pem}: {error}") from None
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError("DKIM_PRIVATE_KEY is not an unencrypted PEM private key.") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 1024:
        raise ConfigError("DKIM_PRIVATE_KEY must be an RSA key of 1024 bits or more.")
    return Signer(selector.encode(), address_domain("@" + domain).encode(), pem.encode())


def signer(org, from_address):
    """Who signs a message from this address: the organization's key when the address is in
    its verified domain and the key's record was found; else the default sender's; or None."""
    config = current_app.config
    if (org is not None and org.dkim_found_at and org.sender_verified
            and address_domain(from_address) == org.sender_domain):
        pem = unseal_key(org, config)
        return Signer(org.dkim_selector.encode(), org.sender_domain.encode(), pem.encode())
    return config.get("DKIM_DEFAULT_SIGNER")


# Signing -------------------------------------------------------------------------------------


class SignedMail:
    """A message's final bytes, signed: what mailer.smtp hands over, as it would a mail;
    kept: read back from models.SignedMessage for a retry."""

    def __init__(self, raw, msg_id, bad_headers=False, kept=False):
        self.raw, self.msgId, self.bad_headers, self.kept = raw, msg_id, bad_headers, kept

    def as_bytes(self):
        return self.raw

    def has_bad_headers(self):
        return self.bad_headers


def sign(mail, by):
    """The SignedMail of a Flask-Mail message, its DKIM-Signature in front."""
    raw = mail.as_bytes()
    return SignedMail(signature(raw, by) + raw, mail.msgId, mail.has_bad_headers())


def signature(raw, by):
    """The DKIM-Signature header line(s) for the message's bytes (CRLF line ends)."""
    _load(by.pem)  # dkimpy then signs with OpenSSL (_openssl_sign)
    head = raw.partition(b"\r\n\r\n")[0]
    present = {line.partition(b":")[0].strip().lower() for line in head.split(b"\r\n")
               if line and line[:1] not in b" \t"}
    include = SIGNED + tuple(name for name in SIGNED_WHEN_PRESENT if name in present)
    return dkim.DKIM(raw, linesep=b"\r\n").sign(
        by.selector, by.domain, by.pem, canonicalize=(b"relaxed", b"simple"),
        include_headers=list(include))


# dkimpy signs with RSA in pure Python: 7 ms a message on this machine, holding the GIL, where
# OpenSSL (cryptography) takes 0.7 ms and lets other threads run. dkimpy does the rest (the
# canonical forms, the hashes, the header); only its last step, the RSA signature of the
# digest, is made by OpenSSL for the keys loaded here. It also reads the PEM key anew for
# each message (0.3 ms of pure-Python ASN.1): read once per key instead.
_OPENSSL_KEYS = {}  # the RSA modulus → the key, for the keys this process signs with
_pure_python_sign = dkim.RSASSA_PKCS1_v1_5_sign


@functools.lru_cache(maxsize=256)
def _load(pem):
    key = serialization.load_pem_private_key(pem, password=None)
    _OPENSSL_KEYS[key.private_numbers().public_numbers.n] = key


def _openssl_sign(digest, private_key):
    """RSASSA-PKCS1-v1_5 over dkimpy's digest (SHA-256), as dkimpy's own function does."""
    key = _OPENSSL_KEYS.get(private_key["modulus"])
    if key is None:
        return _pure_python_sign(digest, private_key)
    algorithm = hashes.SHA256() if digest.name == "sha256" else hashes.SHA1()
    return key.sign(digest.digest(), padding.PKCS1v15(), utils.Prehashed(algorithm))


dkim.RSASSA_PKCS1_v1_5_sign = _openssl_sign
dkim.parse_pem_private_key = functools.lru_cache(maxsize=256)(dkim.parse_pem_private_key)
