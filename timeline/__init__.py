"""The one door for every event of a credential (DESIGN.md, "One door for every event"):
rules.py says what each event type implies, record.py writes an event and all of it,
webhooks.py the outbound webhook messages among it, recount.py derives the counts again."""

from timeline.record import Event, record, record_issued

__all__ = ["Event", "record", "record_issued"]
