"""Sent emails recorded in one statement (PostgreSQL): the writer's UPDATE … RETURNING of
its messages and the events of those it changed, with all RULES[SENT] implies (the
stored statuses and their counts, the "sent" stamp and its funnel count), as one
data-modifying statement where timeline.record takes one a step. The queue's group commit
writes its sent outcomes this way; the webhook messages stay timeline.webhooks', asked
for only when an organization of the group has a live endpoint."""

import functools
import json

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from models import Credential, EmailEvent, FunnelCount, StatusCount, WebhookEndpoint
from models.funnel_count import ENGAGED, STAMPED
from models.states import EventType
from models.status_count import derived
from timeline import webhooks
from timeline.record import Event
from timeline.rules import RULES, Rule

KIND = EventType.SENT
CREDENTIALS, EVENTS = Credential.__table__, EmailEvent.__table__
ENDPOINTS = WebhookEndpoint.__table__


def record_sent(connection, changed, params, at, details):
    """Run changed, an UPDATE … RETURNING id, credential_id, state and opened_at (and
    whatever else the caller wants back) of messages the mail server accepted, with params;
    in the same statement write the SENT event of each message it changed, at that time,
    and all the event implies. details: {message id: (code, data)} of the events. Returns
    changed's rows, each with its credential's org_id (None for a message of no credential)."""
    ids = sorted(details)
    rows = connection.execute(_statement(changed), {
        **params, "at": at, "event_ids": ids,
        "event_codes": [details[key][0] for key in ids],
        "event_data": [json.dumps(details[key][1]) for key in ids]}).all()
    events = [Event(KIND, row.credential_id, at, row.id, *details[row.id]) for row in rows
              if row.credential_id is not None and row.id in details]
    if any(row.hooked for row in rows):
        orgs = {row.credential_id: row.org_id for row in rows}
        webhooks.announce(connection, [(RULES[KIND].webhook, event) for event in events],
                          lambda: orgs)
    return rows


@functools.cache
def _statement(changed):
    """The statement for one writer's UPDATE, built once (and compiled once by SQLAlchemy)."""
    rule = RULES[KIND]
    if (rule._replace(stamps=(), webhook=None) != Rule(status=True) or len(rule.stamps) != 1
            or rule.stamps[0] in ENGAGED):
        raise ValueError(f"{KIND} events imply more than record_sent writes (timeline.record)")
    (stage,) = rule.stamps
    at = sa.bindparam("at", type_=EVENTS.c.at.type)
    held = changed.cte("held")
    given = sa.func.unnest(
        sa.bindparam("event_ids", type_=postgresql.ARRAY(sa.Integer)),
        sa.bindparam("event_codes", type_=postgresql.ARRAY(sa.Text)),
        sa.bindparam("event_data", type_=postgresql.ARRAY(sa.Text)),
    ).table_valued("message_id", "code", "data").render_derived(name="given")
    # Only the events of the messages changed (a lost lease changes none), and of a
    # credential (a test of the organization's email counts nowhere).
    recorded = (sa.select(held.c.id, held.c.credential_id, given.c.code, given.c.data)
                .join_from(held, given, given.c.message_id == held.c.id)
                .where(held.c.credential_id.is_not(None)).cte("recorded"))
    events = sa.insert(EVENTS).from_select(
        ["credential_id", "email_message_id", "type", "code", "data", "at"],
        sa.select(recorded.c.credential_id, recorded.c.id, sa.literal(str(KIND)),
                  recorded.c.code, sa.cast(recorded.c.data, sa.JSON), at)
        .order_by(recorded.c.id)).cte("events")
    statuses = (derived(held).where(CREDENTIALS.c.id.in_(sa.select(recorded.c.credential_id)))
                .cte("statuses"))
    # One UPDATE of each credential for its status and its stamp: a statement cannot
    # change a row twice.
    stamp = CREDENTIALS.c[STAMPED[stage]]
    moved = statuses.c.new.is_distinct_from(statuses.c.old)
    stored = (sa.update(CREDENTIALS)
              .where(CREDENTIALS.c.id == statuses.c.id, sa.or_(moved, stamp.is_(None)))
              .values({"email_status": statuses.c.new, stamp: sa.func.coalesce(stamp, at)})
              # Stamped now: another writer's stamp since this statement began is kept.
              .returning(CREDENTIALS.c.org_id, CREDENTIALS.c.group_id, statuses.c.old,
                         statuses.c.new, (stamp == at).label("stamped"))
              .cte("stored"))
    counts = _added(StatusCount, _shifts(stored)).cte("counts")
    funnel = _added(FunnelCount, sa.select(stored.c.org_id, stored.c.group_id, sa.literal(stage),
                                           sa.func.count())
                    .where(stored.c.stamped).group_by(stored.c.org_id, stored.c.group_id)
                    .order_by(stored.c.org_id, stored.c.group_id)).cte("funnel")
    hooked = sa.exists().where(ENDPOINTS.c.org_id == CREDENTIALS.c.org_id,
                               ENDPOINTS.c.disabled_at.is_(None))
    return (sa.select(held, CREDENTIALS.c.org_id, hooked.label("hooked"))
            .select_from(held.outerjoin(CREDENTIALS, CREDENTIALS.c.id == held.c.credential_id))
            .add_cte(events, counts, funnel))


def _shifts(stored):
    """The changes of the status counts, (org id, status, n) in key order, none zero."""
    moved = stored.c.new.is_distinct_from(stored.c.old)
    change = sa.union_all(
        sa.select(stored.c.org_id, stored.c.old.label("status"), sa.literal(-1).label("n"))
        .where(moved),
        sa.select(stored.c.org_id, stored.c.new, sa.literal(1)).where(moved)).subquery()
    total = sa.func.sum(change.c.n)
    return (sa.select(change.c.org_id, change.c.status, total)
            .group_by(change.c.org_id, change.c.status).having(total != 0)
            .order_by(change.c.org_id, change.c.status))


def _added(model, select):
    """INSERT … SELECT … ON CONFLICT adding n to the count of each key the select gives
    (its columns: the table's key columns, then n), as models.counting.add does for rows."""
    table = model.__table__
    keys = [column.name for column in table.primary_key]
    insert = postgresql.insert(table).from_select([*keys, "n"], select)
    return insert.on_conflict_do_update(index_elements=keys,
                                        set_={"n": table.c.n + insert.excluded.n})
