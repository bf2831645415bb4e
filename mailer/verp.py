"""VERP: an envelope sender per message (bounces+<tag>@domain), so that any report that
comes back names the message it is about, whatever its format.

The tag is the message's row id and an HMAC of it under SECRET_KEY: a report cannot be
made to name another message (of another organization) by guessing.
"""

import hashlib
import hmac
import re

from flask import current_app

TAG_DIGITS = 12


def _signature(row_id):
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"verp:{row_id}".encode(), hashlib.sha256).hexdigest()[:TAG_DIGITS]


def envelope_sender(row_id):
    """The MAIL FROM address of one message: BOUNCE_ADDRESS with the message's tag, or the
    default sender's bare address when BOUNCE_ADDRESS is unset."""
    bounce_address = current_app.config.get("BOUNCE_ADDRESS")
    if not bounce_address:
        return current_app.config["DEFAULT_SENDER"].address
    local, _, domain = bounce_address.address.rpartition("@")
    return f"{local}+{row_id}-{_signature(row_id)}@{domain}"


def _pattern():
    local, _, domain = current_app.config["BOUNCE_ADDRESS"].address.rpartition("@")
    return re.compile(rb"\b" + re.escape(local.encode()) + rb"\+(\d{1,18})-([0-9a-f]{"
                      + str(TAG_DIGITS).encode() + rb"})@" + re.escape(domain.encode()),
                      re.IGNORECASE)


def tagged_row(raw):
    """The message row id a report's VERP address names (anywhere in its bytes), or None;
    a tag whose signature does not match names nothing."""
    if not current_app.config.get("BOUNCE_ADDRESS"):
        return None
    for found in _pattern().finditer(raw):
        row_id = int(found.group(1))
        if hmac.compare_digest(found.group(2).decode().lower(), _signature(row_id)):
            return row_id
    return None
