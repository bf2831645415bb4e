"""Suggest a fix for a mistyped address domain (the mailcheck approach)."""

import functools

# Mail providers recipients use most; a domain close to one of these is likely a typo.
COMMON_DOMAINS = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
    "ymail.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "outlook.com",
    "outlook.de", "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com",
    "protonmail.com", "proton.me", "gmx.de", "gmx.net", "gmx.com", "web.de", "t-online.de",
    "mail.ru", "yandex.ru", "comcast.net", "verizon.net", "att.net", "orange.fr",
    "free.fr", "laposte.net", "libero.it", "qq.com", "163.com", "naver.com", "zoho.com",
)
# Second-level names of those providers, for typos made before a valid ending.
COMMON_NAMES = sorted({d.split(".")[0] for d in COMMON_DOMAINS if len(d.split(".")[0]) > 3})
# Real top-level domains a typo of "com", "net", "org"… should not be "corrected" into.
COMMON_TLDS = (
    "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "io", "co", "me", "ai",
    "app", "dev", "uk", "co.uk", "ac.uk", "de", "fr", "it", "es", "nl", "be", "ch", "at",
    "se", "no", "dk", "fi", "pl", "cz", "pt", "ie", "us", "ca", "au", "com.au", "nz", "jp",
    "cn", "in", "br", "com.br", "ru", "eu", "mx", "ar", "za", "kr", "tw", "sg", "hk",
    "test", "example", "invalid", "localhost",
)


def distance(a, b):
    """Edit distance counting a swap of two neighbouring letters as one edit."""
    previous2, previous = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current.append(value)
        previous2, previous = previous, current
    return previous[-1]


def _closest(word, candidates, limit):
    """The nearest candidate within limit edits (ties: the first listed), or None."""
    best, best_distance = None, limit + 1
    for candidate in candidates:
        if abs(len(candidate) - len(word)) >= best_distance:
            continue  # each extra letter is an edit: it cannot be nearer
        d = distance(word, candidate)
        if d < best_distance:
            best, best_distance = candidate, d
    return best


def suggest_domain(domain):
    """A likely intended domain for a mistyped one, or None when it looks right."""
    return _suggest_domain(domain.lower().strip("."))


@functools.lru_cache(maxsize=4096)  # an import asks about the same few domains many times
def _suggest_domain(domain):
    if domain in COMMON_DOMAINS or "." not in domain:
        return None
    # Short names are one edit from many others; allow a second edit only for long ones.
    nearest = _closest(domain, COMMON_DOMAINS, 1 if len(domain) < 9 else 2)
    if nearest:
        return nearest
    name, _, tld = domain.partition(".")
    fixed_tld = tld if tld in COMMON_TLDS else _closest(tld, COMMON_TLDS, 1)
    fixed_name = name
    if len(name) > 3 and fixed_tld and f"{name}.{fixed_tld}" not in COMMON_DOMAINS:
        # Only a provider's name can be "fixed": company names are unknown to us.
        known = _closest(name, COMMON_NAMES, 1 if len(name) < 6 else 2)
        if known and any(d == f"{known}.{fixed_tld}" for d in COMMON_DOMAINS):
            fixed_name = known
    if not fixed_tld:
        return None
    candidate = f"{fixed_name}.{fixed_tld}"
    return candidate if candidate != domain else None


def suggest_address(address):
    """The address with its domain corrected, or None."""
    if not address or "@" not in address:
        return None
    local, _, domain = address.rpartition("@")
    fixed = suggest_domain(domain)
    return f"{local}@{fixed}" if fixed else None
