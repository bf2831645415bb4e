"""Applying what reports and provider events say to the messages they are about, once.

Matching, first that works: the VERP tag, our Message-ID, the latest message sent to the
address. A permanent failure bounces the message (and suppresses the address); a delay
is a "deferred" event; a complaint a "complained" event (and suppresses the address); a
delivery a "delivered" event; a provider's open an "opened" event, as the tracking image's
would be, or an "auto_opened" one when the provider says a machine made it. A bounce after
an open is recorded, and the open stands.

Reports come in batches (a mailbox holds hundreds): a batch is one transaction and a few
statements, whatever its size.
"""

import re

import sqlalchemy as sa

import timeline
from mailer.outcomes import outcome_writes, write_columns
from mailer.replies import Outcome, classify
from models import EmailMessage, IntakeReceipt, IntakeStatus, write_transaction
from models.states import EventType, MessageState
from models.types import utcnow
from tracking.engagement import agent_family

MESSAGES = EmailMessage.__table__
COLUMNS = (MESSAGES.c.id, MESSAGES.c.credential_id, MESSAGES.c.org_id, MESSAGES.c.to_address,
           MESSAGES.c.state, MESSAGES.c.attempts, MESSAGES.c.opened_at, MESSAGES.c.message_id)
REPLY_CODE = re.compile(r"^([245]\d\d)\b")
# Receipts are kept per kind of report: the same mail read from the mailbox and from a file
# is one report.
RECEIPTS = {"mailbox": "mail", "file": "mail"}
PRECEDENCE = ("applied", "duplicate", "unknown")


def apply_all(source, reports, once=None):
    """Apply reports (or requests), each a list of (key, Finding), in one transaction, and
    note that the intake worked. Returns each one's outcome: applied (something was),
    duplicate (all of it was before), unknown (about no message of ours), or nothing (a
    report that asks for no change); replayed for all when once, the value the request
    was verified with, was used before (and nothing is applied)."""
    if not reports:
        return []
    now = utcnow()
    with write_transaction() as connection:
        if once is not None and not IntakeReceipt.claim_many(
                connection, f"{source}-once", [(once, "used")]):
            return ["replayed"] * len(reports)
        unclaimed = IntakeReceipt.claim_many(connection, RECEIPTS.get(source, source),
                                             [(key, finding.kind) for keyed in reports
                                              for key, finding in keyed])
        # Each finding is new only the first time its key comes (in this batch too).
        fresh = []
        for keyed in reports:
            fresh.append([])
            for key, finding in keyed:
                fresh[-1].append(finding if key in unclaimed else None)
                unclaimed.discard(key)
        findings = [finding for found in fresh for finding in found if finding]
        messages = match_many(connection, findings)
        writes, events = [], []
        for finding in findings:
            if id(finding) in messages:
                _plan(finding, messages[id(finding)], source, now, writes, events)
        write_columns(connection, writes)
        timeline.record(connection, events)  # in report order
        IntakeStatus.note(connection, source)
    return [next((outcome for outcome in PRECEDENCE if outcome in {
        "duplicate" if finding is None else "applied" if id(finding) in messages else "unknown"
        for finding in found}), "nothing") for found in fresh]


def _plan(finding, message, source, now, writes, events):
    """Add what one finding writes to the batch's lists: a message's new columns, events."""
    if finding.kind in ("opened", "auto_opened"):  # counted as the tracking image's are
        kind = EventType.OPENED if finding.kind == "opened" else EventType.AUTO_OPENED
        data = {"agent": agent_family(finding.agent), "via": source, "bot": finding.code}
        events.append(timeline.Event(kind, message.credential_id, now, message.id,
                                     data={key: value for key, value in data.items() if value}))
        return
    late = {"late": True, "via": source}
    if finding.reported_at:
        late["reported_at"] = f"{finding.reported_at:%Y-%m-%d %H:%M}"
    if finding.kind == "failed" and not message.opened_at:
        # A late report is not another attempt: the attempts stay as they were.
        writes.append(outcome_writes(message, _failure(finding), message.attempts, now, late))
        events.append(writes[-1].event)
        return
    # A bounce after an open is only told in the timeline: the open stands.
    if finding.kind in ("failed", "delayed"):
        outcome = _failure(finding) if finding.kind == "failed" else _delay(finding)
        kind = EventType.BOUNCED if finding.kind == "failed" else EventType.DEFERRED
        code, data = outcome.code, {"reply": finding.reply or outcome.reply, **late}
    elif finding.kind == "complained":
        kind, code, data = EventType.COMPLAINED, None, late
    else:
        kind, code, data = EventType.DELIVERED, None, {"reply": finding.reply, **late}
    events.append(timeline.Event(kind, message.credential_id, now, message.id, code,
                                 {key: value for key, value in data.items() if value}))


def match_many(connection, findings):
    """{id(finding): the message it is about (a row of COLUMNS)} for the findings matched."""
    by_row = _rows(connection, MESSAGES.c.id, {f.row_id for f in findings if f.row_id})
    by_message_id = _rows(connection, MESSAGES.c.message_id,
                          {_bracketed(f.message_id) for f in findings if f.message_id})
    matched = {}
    for finding in findings:
        message = (by_row.get(finding.row_id)
                   or by_message_id.get(_bracketed(finding.message_id))
                   or _latest_to(connection, finding.recipient))
        if message is not None:
            matched[id(finding)] = message
    return matched


def _rows(connection, column, values):
    """{value of column: row} of the messages with these values."""
    if not values:
        return {}
    rows = connection.execute(sa.select(*COLUMNS).where(column.in_(list(values)))).all()
    return {row._mapping[column]: row for row in rows}


def _latest_to(connection, address):
    """The latest message sent to an address (when a report names nothing else)."""
    if not address:
        return None
    address = address.strip()
    latest = (sa.select(*COLUMNS)
              .where(MESSAGES.c.state.in_((MessageState.SENT, MessageState.BOUNCED)))
              .order_by(MESSAGES.c.id.desc()).limit(1))
    return (connection.execute(latest.where(MESSAGES.c.to_address == address)).first()
            or connection.execute(latest.where(
                sa.func.lower(MESSAGES.c.to_address) == address.lower())).first())


def _bracketed(message_id):
    if not message_id:
        return None
    message_id = message_id.strip()
    return message_id if message_id.startswith("<") else f"<{message_id}>"


def _failure(finding):
    """The Outcome of a permanent failure: the source's own reason code, else the reply's."""
    code, text = _code_and_text(finding.reply, "550")
    if finding.code:
        return Outcome("bounce", f"{code} {text}".strip(), finding.code)
    return classify(code if code >= 500 else 550, text, "data")


def _delay(finding):
    """The Outcome of a delay: a temporary failure, whatever code the source gave."""
    code, text = _code_and_text(finding.reply, "450")
    return classify(code if 400 <= code < 500 else 450, text, "data")


def _code_and_text(reply, default):
    found = REPLY_CODE.match(reply or "")
    if found:
        return int(found.group(1)), reply[4:].strip()
    return int(default), (reply or "").strip()
