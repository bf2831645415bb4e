"""Verification of an organization's sender domain: a DNS TXT record at
_credential-tracker.<domain> that carries credential-tracker-verification=<token>.

A label of its own rather than the domain itself: the domain's own TXT records (SPF among
them) stay as they are, and DNS hosts that allow one TXT record per name still work.
"""

import dns.exception
import dns.resolver

from models.types import utcnow

LABEL = "_credential-tracker"
PREFIX = "credential-tracker-verification="
# Codes of a check's outcome, and the words for people (STYLE.md: codes, not sentences).
CHECKS = {
    "verified": "the record is there",
    "wrong_value": "a TXT record is there, but not with this token",
    "no_record": "the name exists but has no TXT record",
    "nxdomain": "the name does not exist in DNS",
    "timeout": "DNS did not answer in time; try again in a minute",
    "dns_error": "DNS answered with an error",
}

# A check that found the record gone ends a verification; a DNS that did not answer does not.
GONE = {"wrong_value", "no_record", "nxdomain"}


def record_name(domain):
    """The name the TXT record goes at."""
    return f"{LABEL}.{domain}"


def record_value(token):
    """The text of the TXT record."""
    return PREFIX + token


def resolver(config):
    """A resolver as configured: DNS_RESOLVER ("host" or "host:port", for tests and
    development) or the system's, giving up after DNS_TIMEOUT_SECONDS."""
    if config.get("DNS_RESOLVER"):
        host, port = parse_server(config["DNS_RESOLVER"])
        found = dns.resolver.Resolver(configure=False)
        found.nameservers, found.port = [host], port
    else:
        found = dns.resolver.Resolver()
    found.lifetime = found.timeout = config["DNS_TIMEOUT_SECONDS"]
    return found


def parse_server(text):
    """(host, port) from "127.0.0.1", "127.0.0.1:5353" or "[::1]:5353"."""
    text = text.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        return host, int(port.lstrip(":") or 53)
    host, colon, port = text.partition(":")
    if colon and ":" in port:  # a bare IPv6 address
        return text, 53
    return host, int(port or 53)


def txt_records(name, config):
    """(code, texts): "found" with the name's TXT texts, or a CHECKS code with the DNS
    error in words for people as the only text."""
    try:
        answer = resolver(config).resolve(name, "TXT", search=False)
    except dns.resolver.NXDOMAIN:
        return "nxdomain", [f"{name} does not exist"]
    except dns.resolver.NoAnswer:
        return "no_record", [f"{name} has no TXT record"]
    except dns.exception.Timeout:
        return "timeout", [f"no answer within {config['DNS_TIMEOUT_SECONDS']:g} s"]
    except dns.exception.DNSException as error:
        return "dns_error", [str(error)[:500]]
    return "found", [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


def look_up(domain, token, config):
    """(check code, what was found: the TXT texts or the DNS error, for people)."""
    code, texts = txt_records(record_name(domain), config)
    if code == "found":
        code = "verified" if record_value(token) in texts else "wrong_value"
    return code, "; ".join(texts)[:1000]


def check(org, config):
    """Look the organization's record up and note the outcome on it (not committed);
    return the check code."""
    code, found = look_up(org.sender_domain, org.sender_domain_token, config)
    now = utcnow()
    org.sender_domain_checked_at, org.sender_domain_check = now, code
    org.sender_domain_found = found
    if code == "verified":
        org.sender_domain_verified_at = org.sender_domain_verified_at or now
    elif code in GONE:
        org.sender_domain_verified_at = None
    return code
