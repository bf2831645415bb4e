"""What receiving servers check of a sender domain beside its ownership: its DKIM record,
SPF and DMARC, read with dnspython and explained in plain words (DESIGN.md,
"Deliverability"). The domain check (mailer.sender_domains.check) runs it.

dnspython rather than checkdmarc: two TXT look-ups and a few tags are all we read, through
the resolver the ownership check already uses (DNS_RESOLVER with its port, which tests and
development need); checkdmarc asks its own nameservers on port 53 only.
"""

from mailer import signing
from mailer.sender_domains import txt_records
from models.types import utcnow

NOT_CHECKED = "Not checked yet: check the DNS records."
NO_DOMAIN = "No sender domain: set a sender address."


def check(org, config):
    """Read the DKIM, SPF and DMARC records of the organization's domain and note what was
    found on it (not committed): dkim_found_at, and dns_report with the advice."""
    domain, now = org.sender_domain, utcnow()
    signing.give_key(org, now)
    dkim = _dkim(org, config)
    if dkim["found"]:
        org.dkim_found_at = org.dkim_found_at or now
    elif dkim["code"] != "timeout":  # a DNS that did not answer proves nothing
        org.dkim_found_at = None
    org.dns_report = {"checked_at": now.isoformat(), "dkim": dkim,
                      "spf": spf(domain, config),
                      "dmarc": dmarc(domain, config, signed=bool(org.dkim_found_at))}


def report(org, config):
    """The records as Settings and the API show them: {dkim, spf, dmarc, checked_at}, each
    with its advice."""
    stored = org.dns_report or {}
    advice = NOT_CHECKED if org.sender_domain else NO_DOMAIN
    unread = {"record": None, "ok": False, "advice": advice}
    named = bool(org.dkim_selector and org.sender_domain)
    dkim = {"selector": org.dkim_selector, "found": bool(org.dkim_found_at),
            "record_name": signing.record_name(org.dkim_selector, org.sender_domain)
            if named else None,
            "record_value": signing.record_value(org) if named else None,
            "advice": (stored.get("dkim") or {}).get("advice", advice)}
    return {"dkim": dkim, "spf": {k: (stored.get("spf") or unread)[k] for k in unread},
            "dmarc": {k: (stored.get("dmarc") or unread)[k] for k in unread},
            "checked_at": stored.get("checked_at")}


def _dkim(org, config):
    name = signing.record_name(org.dkim_selector, org.sender_domain)
    code, texts = txt_records(name, config)
    if code != "found":
        return {"code": code, "found": False, "advice": (
            f"Publish the DKIM record below at {name}: until it is found, your emails are "
            "not signed for your domain." if code != "timeout" else
            "DNS did not answer in time; try again in a minute.")}
    if signing.published_key(texts) == signing.public_key_text(
            signing.unseal_key(org, config)):
        return {"code": "found", "found": True, "advice": (
            f"Found: emails from {org.sender_domain} are signed with this key.")}
    return {"code": "wrong_value", "found": False, "advice": (
        f"{name} has a TXT record, but not with this key: publish the value below exactly "
        "(some DNS hosts need it split into strings of 255 characters; that is fine).")}


def spf(domain, config):
    """{record, ok, advice} of the domain's SPF record, against SPF_INCLUDE."""
    code, texts = txt_records(domain, config)
    include = config.get("SPF_INCLUDE")
    wanted = f"v=spf1 include:{include} ~all" if include else "v=spf1 mx ~all"
    records = [t for t in texts if t.lower().split(" ", 1)[0] == "v=spf1"]
    if code == "timeout":
        return {"record": None, "ok": False, "advice": "DNS did not answer in time; try again."}
    if not records:
        return {"record": None, "ok": False, "advice": (
            f"{domain} has no SPF record, so receivers cannot tell which servers may send "
            f"for it. Add a TXT record at {domain}: {wanted}")}
    if len(records) > 1:
        return {"record": " | ".join(records), "ok": False, "advice": (
            f"{domain} has {len(records)} SPF records; receivers treat that as an error and "
            "ignore them all. Merge them into one.")}
    record = records[0]
    terms = record.lower().split()
    if "+all" in terms or "all" in terms:
        return {"record": record, "ok": False, "advice": (
            "The record ends in +all: it lets anyone send as you, and receivers distrust "
            "it. End it with ~all or -all.")}
    if include and f"include:{include.lower()}" not in terms:
        return {"record": record, "ok": False, "advice": (
            f"The record does not let our mail server send for {domain}: add "
            f"include:{include} before its last term, for example: "
            f"{_with_include(record, include)}")}
    return {"record": record, "ok": True, "advice": (
        f"SPF lets our mail server send for {domain}." if include else
        "An SPF record is published. (We cannot tell whether it covers our mail server: "
        "SPF_INCLUDE is not set on this server.)")}


def _with_include(record, include):
    """The SPF record with include: put before its all (or at its end)."""
    terms = record.split()
    last = terms[-1].lower().lstrip("~-?+")
    place = len(terms) - 1 if last == "all" or last.startswith("redirect=") else len(terms)
    return " ".join([*terms[:place], f"include:{include}", *terms[place:]])


def dmarc(domain, config, signed):
    """{record, ok, advice} of the domain's DMARC policy (or its organizational domain's:
    its last two labels), given whether its mail is signed by an aligned DKIM key."""
    names = [f"_dmarc.{domain}"]
    if domain.count(".") > 1:
        names.append("_dmarc." + ".".join(domain.split(".")[-2:]))
    for name in names:
        code, texts = txt_records(name, config)
        if code == "timeout":
            return {"record": None, "ok": False,
                    "advice": "DNS did not answer in time; try again."}
        records = [t for t in texts if t.replace(" ", "").lower().startswith("v=dmarc1")]
        if records:
            break
    else:
        return {"record": None, "ok": False, "advice": (
            f"No DMARC record at _dmarc.{domain}. Gmail and Yahoo require one from senders "
            f"of bulk mail. Start with a TXT record at _dmarc.{domain}: "
            f"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}")}
    record = records[0]
    tags = {key.strip().lower(): value.strip().lower() for key, _, value in
            (part.partition("=") for part in record.split(";") if "=" in part)}
    policy = tags.get("p", "none")
    if policy in ("reject", "quarantine") and not signed:
        return {"record": record, "ok": False, "advice": (
            f"Your DMARC policy is p={policy}, and your emails are not yet signed with DKIM "
            f"for {domain}: receivers will {'refuse' if policy == 'reject' else 'quarantine'} "
            "them. Publish the DKIM record above and check again before you send. (Our "
            "bounce address carries the envelope, so SPF cannot align with your domain: DMARC "
            "passes through DKIM.)")}
    if policy == "none":
        return {"record": record, "ok": True, "advice": (
            "DMARC is published with p=none: receivers report on your mail and reject none "
            "of it.")}
    return {"record": record, "ok": True, "advice": (
        f"DMARC is published with p={policy}, and your emails are signed with DKIM for "
        f"{domain}, which it needs.")}
