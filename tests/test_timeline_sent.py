"""Sent emails recorded in one statement (timeline.record_sent, PostgreSQL) write what the
recorder's steps (timeline.record) write, row for row, in every table."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, empty_postgres, issue

import work
from accounts import create_user
from mailer import commit, pace
from mailer.replies import Outcome
from models import (
    Credential,
    EmailMessage,
    WebhookEndpoint,
    db,
    funnel_count,
    immediate_connection,
)
from models.status_count import sync_statuses
from models.types import utcnow
from timeline import sent

OWNER = "worker-1"


def message(credential, state, **columns):
    """Another email of the credential (a resend), in that state; to be committed."""
    row = EmailMessage(org_id=credential.org_id, credential_id=credential.id,
                       to_address=credential.recipient_email or "gone@example.com",
                       message_id=f"<{credential.id}.{state}.{len(credential.messages)}@test>",
                       state=state, **columns)
    db.session.add(row)
    db.session.flush()
    return row


def scenario():
    """Three organizations' credentials, each with an email being sent (leased to OWNER)
    in its own circumstances; returns the outcomes to write, in hand-in order."""
    acme = create_user("issuer@acme.test", "Acme Academy", PASSWORD)
    beta = create_user("issuer@beta.test", "Beta School", PASSWORD)
    gamma = create_user("issuer@gamma.test", "Gamma Institute", PASSWORD)
    db.session.add_all([
        WebhookEndpoint(org_id=acme.org_id, url="https://hooks.example/a", events=["*"]),
        # Subscribed to other events only, and one switched off.
        WebhookEndpoint(org_id=beta.org_id, url="https://hooks.example/b",
                        events=["email.opened"]),
        WebhookEndpoint(org_id=gamma.org_id, url="https://hooks.example/g", events=["*"],
                        disabled_at=utcnow() - timedelta(days=1))])
    db.session.commit()

    def published(user, n, group="Course A"):
        credential = issue(user, email=f"r{n}@example.com", action="publish", group=group)
        return credential, credential.latest_message

    plain, plain_message = published(acme, 1)
    _, other_group = published(acme, 2, group="Course B")
    resent_later, before_resend = published(acme, 3)
    message(resent_later, "queued")  # queued after: the status stays "sending"
    reopened, first = published(beta, 4)  # sent and opened before, now sent again
    first.state, first.sent_at, first.opened_at = "sent", utcnow(), utcnow()
    again = message(reopened, "queued")
    _, opened_early = published(beta, 5)  # opened before its outcome is written
    opened_early.opened_at = utcnow()
    _, lost = published(beta, 6)  # another worker holds it now
    twice, older = published(gamma, 7)  # two of its emails in one group
    newer = message(twice, "queued")
    no_address, addressless = published(gamma, 8)
    no_address.recipient_email = None
    cancelled_after, kept = published(gamma, 9)
    message(cancelled_after, "cancelled")
    test_email = EmailMessage(org_id=acme.org_id, credential_id=None, purpose="test",
                              to_address=acme.email, message_id="<test@test>", state="queued")
    db.session.add(test_email)
    db.session.flush()
    handed = [plain_message, other_group, before_resend, again, opened_early, lost, older,
              newer, addressless, kept, test_email]
    for row in handed:
        row.state, row.lease_until = "sending", utcnow() + timedelta(minutes=5)
        row.lease_owner = "worker-2" if row is lost else OWNER
    db.session.flush()
    connection = db.session.connection()
    for stage in ("sent", "opened"):
        funnel_count.stamp(connection, stage, {reopened.id}, first.sent_at)
    sync_statuses(connection, db.session.scalars(sa.select(Credential.id)).all())
    db.session.commit()
    slot, _ = pace.take_slot([(100, 60)])
    return [(row.id, Outcome("sent", f"250 2.0.0 Ok: queued as Q{row.id}"),
             slot if row is plain_message else None) for row in handed]


def snapshot():
    """Every row of every table, by table and primary key."""
    db.session.expire_all()
    tables = {}
    for table in db.metadata.sorted_tables:
        keys = [column.name for column in table.primary_key]
        tables[table.name] = {tuple(row[k] for k in keys): dict(row) for row in
                              db.session.execute(sa.select(table)).mappings()}
    db.session.rollback()
    return tables


def written(before, after, since, until):
    """What a write changed: for each table, the columns changed in each row kept, and
    the rows added (without their generated ids, which follow the order of the insert);
    a time reads "earlier", "now" (during the write: since to until) or "later", a new
    webhook id "msg_…"."""
    def plain(value):
        if hasattr(value, "tzinfo"):
            return "earlier" if value < since else "now" if value <= until else "later"
        if isinstance(value, str) and re.fullmatch(r"msg_[0-9a-f]{32}", value):
            return "msg_…"
        return value

    changes = {}
    for name, rows in after.items():
        kept = {key: {column: (plain(before[name][key][column]), plain(value))
                      for column, value in row.items()
                      if plain(value) != plain(before[name][key][column])}
                for key, row in rows.items() if key in before[name]}
        added = sorted(repr(sorted((column, plain(value)) for column, value in row.items()
                                   if column != "id"))
                       for key, row in rows.items() if key not in before[name])
        removed = sorted(set(before[name]) - set(rows))
        changes[name] = ({key: cols for key, cols in kept.items() if cols}, added, removed)
    return changes


def run(one_statement, monkeypatch):
    """The scenario on an empty database, its outcomes written as one group the given way;
    returns (states, what the write changed, the jobs it gave work)."""
    empty_postgres()
    db.create_all()
    outcomes = scenario()
    monkeypatch.setattr(commit, "ONE_STATEMENT", {"postgresql"} if one_statement else set())
    before, since = snapshot(), utcnow()
    work.taken()
    with immediate_connection() as connection:
        states = commit.record_all(connection, outcomes, OWNER)
    until = utcnow()
    return states, written(before, snapshot(), since, until), work.taken()


@pytest.mark.parametrize("app", ["postgres"], indirect=True)
def test_one_statement_writes_what_the_recorder_steps_write(app, monkeypatch):
    states, changes, jobs = run(True, monkeypatch)
    assert (states, changes, jobs) == run(False, monkeypatch)
    # And that is the scenario's: the lease lost changed nothing, the rest is sent.
    assert states == ["sent"] * 5 + ["lease_lost"] + ["sent"] * 5
    credentials, _, _ = changes["credentials"]
    assert sorted((cols.get("email_status", ("", "-"))[1], "first_sent_at" in cols)
                  for cols in credentials.values()) == [
        ("-", True), ("-", True), ("not_opened", False), ("not_opened", True),
        ("not_opened", True), ("not_opened", True), ("not_opened", True), ("opened", True)]
    assert len(changes["email_events"][1]) == 9  # none for the test email
    assert len(changes["webhook_messages"][1]) == 3  # Acme's endpoint: its three sent
    assert changes["send_slots"][0] and jobs == {work.WEBHOOKS}


@pytest.mark.parametrize("app", ["postgres"], indirect=True)
def test_without_a_live_endpoint_no_webhook_is_asked_for(app, issuer):
    statements = []
    credential = issue(issuer, action="publish")
    row = credential.latest_message
    row.state, row.lease_owner, row.lease_until = "sending", OWNER, utcnow()
    db.session.commit()
    row_id = row.id

    def count(conn, cursor, statement, *_):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        with immediate_connection() as connection:
            assert commit.record_all(connection, [(row_id, Outcome("sent", "250 ok"), None)],
                                     OWNER) == ["sent"]
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1 and statements[0].startswith("WITH")
    assert credential.email_status == "not_opened" and credential.first_sent_at


def test_only_a_rule_it_can_write_is_written_in_one_statement(monkeypatch):
    from timeline.rules import RULES, Rule

    sent._statement.cache_clear()
    monkeypatch.setitem(RULES, sent.KIND, RULES[sent.KIND]._replace(per_day=True))
    with pytest.raises(ValueError):
        sent._statement(sa.select(EmailMessage.id))
    monkeypatch.setitem(RULES, sent.KIND, Rule(status=True, stamps=("downloaded",)))
    with pytest.raises(ValueError):
        sent._statement(sa.select(EmailMessage.id))
    sent._statement.cache_clear()
