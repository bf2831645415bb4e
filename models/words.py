"""Plain words for the codes the database stores: one table for each kind of code.

Rows store short codes (a bounce reason, why an email was resent, what happened in the
timeline) and the outside words that came with them (a server's reply, an address);
the sentences people read are put together here, when they are shown. Rewording one
changes no behaviour: the code stays.
"""

from typing import NamedTuple

from models.states import EventType

# The six email statuses (models.status.EmailStatus): label, tooltip, help page advice.
STATUS_LABELS = {
    "not_sent": "Email is not sent",
    "not_provided": "Email is not provided",
    "sending": "Sending",
    "not_opened": "Email is not opened",
    "bounced": "Email is bounced",
    "opened": "Email is opened",
}

STATUS_TOOLTIPS = {
    "not_sent": "No email was sent: the credential is a draft, scheduled, "
    "or was published with email switched off.",
    "not_provided": "There is no email address for this recipient, so nothing "
    "can be sent. Add one to send the credential.",
    "sending": "The email is queued or being delivered; a temporary failure "
    "is retried automatically.",
    "not_opened": "The recipient's mail server accepted the email; the "
    "recipient has not opened it yet.",
    "bounced": "The email could not be delivered. Check the address and the "
    "reason, then fix and resend.",
    "opened": "The recipient opened the email or followed its link.",
}

STATUS_ADVICE = {
    "not_sent": "Nothing was sent yet. A draft or scheduled credential sends its "
    "email when it is published (a scheduled one publishes by itself at its time). A "
    "credential published with “Send email to recipient” switched off is visible, "
    "but the recipient was never told: resend it to send the email.",
    "not_provided": "The credential has no email address, so there is nobody to "
    "send it to. Add the recipient’s address, then send the email.",
    "sending": "The email is in the outgoing queue or being handed to the "
    "recipient’s mail server. Most emails leave within seconds. If the receiving "
    "server asks us to try later, we retry automatically with growing pauses before giving "
    "up; the icon changes by itself.",
    "not_opened": "The recipient’s mail server accepted the email. The "
    "recipient has not opened it yet, or their mail program does not load images. Give "
    "people a few days, check that the address is right, then send a reminder.",
    "bounced": "The email could not be delivered: the address does not exist, the "
    "mailbox is full, the domain is misspelled, or the receiving server refused it (for "
    "example as spam or by its company policy). Check the address for typos, fix it and "
    "resend. If many people at one company bounce, ask that company’s IT to allow our "
    "sender address.",
    "opened": "The recipient opened the email or followed the link to their "
    "credential. Nothing to do.",
}


class Tip(NamedTuple):
    """A quick tip of the help page, and the row action that follows it."""

    anchor: str  # the help page section
    title: str  # its name where the status's help points to it
    action: str | None = None  # the row's link to the recipient panel
    hint: str | None = None  # that link's tooltip


STATUS_TIPS = {
    "bounced": Tip("fix-typos", "fix typos and resend", "Fix & resend",
                   "Check the address for a typo, fix it, then resend."),
    "not_opened": Tip("nudge", "give people time, then nudge", "Resend",
                      "Give people a few days, then send a reminder."),
    "not_sent": Tip("send-unsent", "send what was never sent", "Send email",
                    "Published without email: send it now."),
    "not_provided": Tip("send-unsent", "add the address, then send"),
}

# Why an email was not delivered (now or for good): the code classify() gives a reply.
# {said} is the server's own words, without the reply code.
REASONS = {
    "mailbox_unknown": "The mailbox does not exist.",
    "mailbox_full": "The mailbox is full.",
    "mailbox_disabled": "The mailbox is disabled.",
    "domain_unknown": "The domain does not exist or does not accept mail.",
    "blocked": "Blocked as spam or by the receiving server's policy.",
    "too_large": "The email is too large for the receiving server.",
    "refused": "The receiving server refused the email.",
    "server_busy": "The receiving server is busy or asked us to try again later.",
    "throttled": "Our mail server asked us to send more slowly; sending goes on at a gentler "
    "pace.",
    "unreachable": "Could not reach the mail server: {said}.",
    "relay_refused": "Our mail server refused to send: {said}",
    "no_smtputf8": "The receiving server cannot take international addresses.",
    "bad_header": "The email had an invalid header.",
    "compose_failed": "Could not build the email.",
    "queue_expired": "Not sent: the mail server could not be reached for {days} days (last: "
    "{said}).",
    "send_failed": "Could not send the email.",
    "suppressed_bounce": "Not sent: earlier mail to this address bounced for good. Fix the "
    "address, or send anyway if you know it works now.",
    "suppressed_complaint": "Not sent: the recipient reported earlier mail as spam.",
}

# Where a late report came from (an event's data["via"]).
INTAKES = {
    "mailbox": "in the bounce mailbox", "file": "from a file", "sendgrid": "from SendGrid",
    "mailgun": "from Mailgun", "postmark": "from Postmark", "ses": "from Amazon SES",
}

# Who made an open that was no person's (the code of an "auto_opened" event: tracking);
# those written before it had a code were all a privacy proxy's.
AUTO_OPENERS = {
    None: "by a mail privacy proxy",
    "privacy_proxy": "by Apple Mail Privacy Protection",
    "scanner": "by a link scanner",
    "bot": "by a program, not a person",
}
# The providers that report opens (an event's data["via"]), and the machines Mailgun names.
PROVIDER_NAMES = {"sendgrid": "SendGrid", "mailgun": "Mailgun", "postmark": "Postmark",
                  "ses": "Amazon SES"}
PROVIDER_BOTS = {"apple": "Apple Mail Privacy Protection", "gmail": "a Gmail bot",
                 "generic": "a firewall or virus scanner"}

# Why an email was sent again (the code of a "resent" event).
RESEND_CAUSES = {
    "forced": "forced",
    "bulk": "bulk resend",
    "nudge": "reminder: not opened",
    "reminder": "automatic reminder",
    "expiry_notice": "the credential expires soon",
    "name_changed": "name corrected",
}

# Why a resend is refused: (the sentence for one credential, the words for a bulk count).
RESEND_REFUSALS = {
    "not_published": ("The credential is not published yet; publish it to send the email.",
                      "not published yet"),
    "no_address": ("The credential has no email address.", "no email address"),
    "bounced_unchanged": ("The address bounced permanently and was not changed. "
                          "Fix the address first, or force the resend.",
                          "address bounced and unchanged"),
    "revoked": ("The credential is revoked; reinstate it to send it again.", "revoked"),
}

ALREADY_PUBLISHED = "The credential is already published."


def revocation_refusal(credential):
    """Why the credential cannot be revoked (it is already, or not published yet)."""
    if credential.revoked_at is not None:
        return "The credential is already revoked."
    return "Only a published credential can be revoked: delete a draft instead."

# Each timeline event's name, as the recipient panel shows it.
EVENT_LABELS = {
    EventType.QUEUED: "Queued", EventType.SENT: "Accepted by the mail server",
    EventType.DEFERRED: "Delayed, will retry", EventType.BOUNCED: "Bounced",
    EventType.DELIVERED: "Delivered", EventType.COMPLAINED: "Reported as spam",
    EventType.OPENED: "Opened", EventType.AUTO_OPENED: "Opened automatically",
    EventType.VIEWED: "Followed the link", EventType.DOWNLOADED: "Downloaded the PDF",
    EventType.LINKEDIN_CLICKED: "Clicked Add to LinkedIn",
    EventType.SHARE_VIEWED: "Shared page viewed",
    EventType.ADDRESS_CHANGED: "Address changed", EventType.RESENT: "Resent",
    EventType.NAME_CHANGED: "Name corrected", EventType.REVOKED: "Revoked",
    EventType.REINSTATED: "Reinstated", EventType.UNSUBSCRIBED: "Unsubscribed from reminders",
}


def said(reply):
    """A server's reply without its leading reply code ("550 5.1.1 No such user" → "5.1.1 No
    such user"); a reply that has no code is all words."""
    code, _, rest = (reply or "").partition(" ")
    return rest if len(code) == 3 and code.isdigit() else (reply or "")


def reason(code, reply=None, days=None):
    """The words for a reason code, with the server's words where the sentence quotes them."""
    return REASONS[code].format(said=said(reply), days=days)


def bounce_reason(code, reply, gave_up_after=None, days=None):
    """Why an email bounced: the reason, or that temporary failures ran out of tries."""
    words = reason(code, reply, days)
    return f"Gave up after {gave_up_after} tries: {words}" if gave_up_after else words


def _source(data):
    """ " (from SendGrid, reported … UTC)": where a late report came from, and when."""
    where = [INTAKES[data["via"]]] if data.get("via") in INTAKES else []
    if data.get("reported_at"):
        where.append(f"reported {data['reported_at']} UTC")
    return f" ({', '.join(where)})" if where else ""


def late_report(data, what="bounce"):
    """ "A bounce report came back (…): " for an event a late report made, else ""."""
    return f"A {what} report came back{_source(data)}: " if data.get("late") else ""


def _reported_by(data):
    """ ", reported by SendGrid" for an event a provider reported, else ""."""
    via = data.get("via")
    return f", reported by {PROVIDER_NAMES[via]}" if via in PROVIDER_NAMES else ""


def auto_opened(code, data):
    """The timeline's sentence for an open no person made: what made it."""
    if data.get("via") in PROVIDER_NAMES:
        bot = PROVIDER_BOTS.get(data.get("bot"), data.get("bot"))
        return f"reported by {PROVIDER_NAMES[data['via']]} as a machine open" + (
            f" ({bot})" if bot else "")
    agent = f" ({data['agent']})" if code in ("scanner", "bot") and data.get("agent") else ""
    return f"{AUTO_OPENERS.get(code, AUTO_OPENERS[None])}{agent}"


# Events a browser caused: their sentence, then the program that did it.
BY_AGENT = {
    EventType.OPENED: "by a person",
    EventType.VIEWED: "followed the link",
    EventType.DOWNLOADED: "downloaded the certificate as a PDF",
    EventType.LINKEDIN_CLICKED: "went on to LinkedIn's add-to-profile form",
    EventType.SHARE_VIEWED: "someone opened the public verification page",
}


def event_detail(kind, code, data, to_address=None):
    """The timeline's sentence for one event, from its kind, code and data."""
    if "text" in data:  # written before events had codes (migration 0007): kept as it was
        return data["text"]
    reply = data.get("reply")
    said_so = f" Server said: {reply}" if reply else ""
    if kind == EventType.QUEUED:
        return f"to {to_address}"
    if kind == EventType.SENT:
        return reply
    if kind == EventType.DEFERRED:
        next_try = f" Next try at {data['next_try']} UTC." if data.get("next_try") else ""
        return f"{late_report(data, 'delay')}{reason(code, reply)}{next_try}{said_so}"
    if kind == EventType.BOUNCED:
        why = bounce_reason(code, reply, data.get("gave_up_after"), data.get("waited_days"))
        return f"{late_report(data)}{why}{said_so}"
    if kind == EventType.COMPLAINED:
        return f"The recipient reported the email as spam{_source(data)}."
    if kind == EventType.DELIVERED:
        return f"Delivered to the recipient's mail server{_source(data)}.{said_so}"
    if kind in BY_AGENT:
        return f"{BY_AGENT[kind]} ({data['agent']}){_reported_by(data)}"
    if kind == EventType.AUTO_OPENED:
        return auto_opened(code, data)
    if kind in (EventType.ADDRESS_CHANGED, EventType.NAME_CHANGED):
        return f"{data['old'] or '(none)'} → {data['new'] or '(none)'}"
    if kind == EventType.REVOKED:
        return data.get("reason")
    if kind == EventType.RESENT:
        return RESEND_CAUSES[code] if code else None
    if kind == EventType.UNSUBSCRIBED:
        return unsubscribed(data)
    return None


# How a recipient unsubscribed from reminders (lifecycle.unsubscribes).
UNSUBSCRIBED_VIA = {"mail_program": "with their mail program's unsubscribe button",
                    "page": "on the page the link in a reminder opens"}


def unsubscribed(data):
    """The timeline's sentence for an unsubscribe: how, and the email it cancelled."""
    how = f" {UNSUBSCRIBED_VIA[data['via']]}" if data.get("via") in UNSUBSCRIBED_VIA else ""
    cancelled = " The reminder waiting to go was cancelled." if data.get("cancelled") else ""
    return (f"The recipient asked for no more reminders or expiry notices{how}; an email "
            f"you send yourself still goes.{cancelled}")


# What each role may do, as Settings → People and a refused page say it.
ROLE_WORDS = {
    "viewer": "read the credentials, their timelines and analytics, and export them",
    "issuer": "also issue, import, resend, revoke and nudge, and edit groups, the email "
              "and the brand",
    "owner": "also manage people, API keys, webhooks, the sender and intake settings, and "
             "read the audit log",
}
