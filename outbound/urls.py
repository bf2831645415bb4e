"""Which webhook URLs we post to: https, and never a host on a private network (SSRF).

The host is resolved once per try and the connection goes to the address that was
checked, so a DNS answer that changes between the check and the connection cannot point
us inside.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from validation import InvalidInput

MAX_LENGTH = 2000


class Refused(Exception):
    """A URL or an address we do not post to; the message says why."""


def check(url, config):
    """The URL cleaned, or InvalidInput saying what is wrong (a registration's check)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("A URL is required.")
    url = url.strip()
    if len(url) > MAX_LENGTH:
        raise InvalidInput(f"The URL is longer than {MAX_LENGTH} characters.")
    try:
        target(url, config)
    except Refused as error:
        raise InvalidInput(str(error)) from None
    return url


def target(url, config):
    """(scheme, host, port, the checked addresses to connect to, path with query) for a
    URL we may post to; Refused otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("The URL is not valid.") from None
    schemes = ("https", "http") if config["WEBHOOK_ALLOW_HTTP"] else ("https",)
    if parts.scheme not in schemes:
        raise Refused("The URL must start with https://." if parts.scheme != "https"
                      else "The URL is not valid.")
    if not parts.hostname or parts.username or parts.password:
        raise Refused("The URL needs a host name, and no user name or password.")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(parts.hostname, port, config["WEBHOOK_ALLOW_PRIVATE"])
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, addresses, path


def resolve(host, port, allow_private=False):
    """The addresses the host resolves to, once every one of them is public."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Refused(f"The host {host} was not found.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise Refused(f"The host {host} is on a private network ({address}): "
                              "webhooks go to public addresses only.")
    return addresses


def is_public(address):
    """False for loopback, private, link-local, multicast, reserved and unspecified
    addresses (an IPv4 address mapped into IPv6 counts as itself)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
                or ip.is_reserved or ip.is_unspecified) and ip.is_global
