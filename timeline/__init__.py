"""The one door for every event of a credential (DESIGN.md, "One door for every event"):
rules.py says what each event type implies, record.py writes an event and all of it,
webhooks.py the outbound webhook messages among it, sent.py the queue's sent emails in one
statement, recount.py derives the counts again."""

from timeline.record import Event, record, record_issued
from timeline.sent import record_sent

__all__ = ["Event", "record", "record_issued", "record_sent"]
