"""Migrations build the schema the models describe, on SQLite and PostgreSQL."""

from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import _database_url, empty_postgres
from flask_migrate import downgrade, upgrade

from app import create_app
from models import EmailEvent, EmailMessage, db, search

# An organization (1) with a group (1), in the columns every revision has.
ORGANIZATION = ["INSERT INTO organizations (id, name, created_at, reminder_max) "
                "VALUES (1, 'Acme', '2026-01-01', 0)",
                "INSERT INTO credential_groups (id, org_id, name, created_at) "
                "VALUES (1, 1, 'G', '2026-01-01')"]


@contextmanager
def empty_database(tmp_path, kind):
    """An app context on an empty database of the kind, no revision applied yet."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": _database_url(kind, tmp_path),
                      "MAIL_SERVER": "127.0.0.1", "SECRET_KEY": "x"})
    with app.app_context():
        if kind == "postgres":
            empty_postgres()
        yield app


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_upgrade_matches_models_and_downgrades(tmp_path, kind):
    with empty_database(tmp_path, kind):
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "compare_type": True, "include_object": search.include_object})
            assert compare_metadata(context, db.metadata) == []
            tables = set(sa.inspect(connection).get_table_names())
        assert {"credentials", "email_messages", "email_events", "api_keys"} <= tables
        downgrade(revision="base")
        with db.engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sentences_already_stored_become_codes_and_read_the_same(tmp_path, kind):
    with empty_database(tmp_path, kind):
        upgrade(revision="0006")
        with db.engine.begin() as connection:
            for statement in [
                *ORGANIZATION,
                "INSERT INTO credentials (id, org_id, group_id, recipient_name, "
                "recipient_email, issue_state, send_email, token, created_at, email_status) "
                "VALUES (1, 1, 1, 'Jane', 'jane@example.com', 'published', true, 't1', "
                "'2026-01-01', 'bounced')",
            ]:
                connection.execute(sa.text(statement))
            for row_id, reason, kind_ in [
                    (1, "Blocked as spam or by the receiving server's policy.", "hard"),
                    (2, "Gave up after 6 tries: The mailbox is full.", "soft"),
                    (3, "Could not reach the mail server: connection lost: timed out.", "soft"),
                    (4, "Some words nobody wrote a code for.", "hard")]:
                connection.execute(sa.text(
                    "INSERT INTO email_messages (id, org_id, credential_id, to_address, state, "
                    "attempts, next_attempt_at, message_id, token, created_at, open_count, "
                    "is_reminder, bounce_kind, bounce_reason, last_reply) VALUES (:id, 1, 1, "
                    "'jane@example.com', 'bounced', 6, '2026-01-01', :mid, :token, "
                    "'2026-01-01', 0, false, :kind, :reason, 'connection lost: timed out')"),
                    {"id": row_id, "mid": f"<{row_id}@x>", "token": f"m{row_id}",
                     "kind": kind_, "reason": reason})
            for event_id, kind_, detail in [
                    (1, "resent", "automatic reminder"), (2, "resent", "bulk resend"),
                    (3, "bounced", "The mailbox is full. Server said: 552 full"),
                    (4, "queued", "to jane@example.com"), (5, "resent", None)]:
                connection.execute(sa.text(
                    "INSERT INTO email_events (id, credential_id, message_id, type, at, detail) "
                    "VALUES (:id, 1, 1, :type, '2026-01-01', :detail)"),
                    {"id": event_id, "type": kind_, "detail": detail})
        upgrade()
        codes = dict(db.session.execute(sa.select(EmailMessage.id, EmailMessage.bounce_code)).all())
        assert codes == {1: "blocked", 2: "mailbox_full", 3: "unreachable", 4: "refused"}
        messages = db.session.scalars(sa.select(EmailMessage).order_by(EmailMessage.id)).all()
        assert [m.bounce_reason for m in messages[:3]] == [
            "Blocked as spam or by the receiving server's policy.",
            "Gave up after 6 tries: The mailbox is full.",
            "Gave up after 6 tries: Could not reach the mail server: connection lost: "
            "timed out."]
        events = db.session.scalars(sa.select(EmailEvent).order_by(EmailEvent.id)).all()
        assert [(e.code, e.detail) for e in events] == [
            ("reminder", "automatic reminder"), ("bulk", "bulk resend"),
            (None, "The mailbox is full. Server said: 552 full"),
            (None, "to jane@example.com"), (None, None)]
        db.session.remove()
        downgrade(revision="0006")
        with db.engine.connect() as connection:
            assert connection.execute(sa.text(
                "SELECT detail FROM email_events ORDER BY id")).scalars().all() == [
                "automatic reminder", "bulk resend",
                "The mailbox is full. Server said: 552 full", "to jane@example.com", None]
            assert connection.execute(sa.text(
                "SELECT bounce_reason FROM email_messages ORDER BY id")).scalars().all()[:2] == [
                "Blocked as spam or by the receiving server's policy.",
                "The mailbox is full."]
        db.engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_credentials_already_issued_get_public_ids_and_keep_their_first_view(tmp_path, kind):
    with empty_database(tmp_path, kind):
        upgrade(revision="0014")
        with db.engine.begin() as connection:
            for statement in ORGANIZATION:
                connection.execute(sa.text(statement))
            for row_id in (1, 2):
                connection.execute(sa.text(
                    "INSERT INTO credentials (id, org_id, group_id, recipient_name, "
                    "recipient_email, issue_state, send_email, token, created_at, email_status) "
                    "VALUES (:id, 1, 1, 'Jane', 'jane@example.com', 'published', true, :token, "
                    "'2026-01-01', 'opened')"), {"id": row_id, "token": f"t{row_id}"})
            for event_id, at in ((1, "2026-01-03 10:00:00"), (2, "2026-01-02 09:00:00")):
                connection.execute(sa.text(
                    "INSERT INTO email_events (id, credential_id, type, at, data) "
                    "VALUES (:id, 1, 'viewed', :at, '{}')"), {"id": event_id, "at": at})
        upgrade()
        rows = db.session.execute(sa.text(
            "SELECT public_id, viewed_at, share_views FROM credentials ORDER BY id")).all()
        assert len({row.public_id for row in rows}) == 2 and all(r.public_id for r in rows)
        assert str(rows[0].viewed_at).startswith("2026-01-02 09:00:00")
        assert rows[1].viewed_at is None and rows[1].share_views == 0
        # 0017 counted them for the Analytics page: the view made the first one opened.
        stages = dict(db.session.execute(sa.text(
            "SELECT stage, n FROM funnel_counts WHERE org_id = 1 AND group_id = 1")).all())
        assert stages == {"credentials": 2, "opened": 1, "viewed": 1}
        days = db.session.execute(sa.text(
            "SELECT day, kind, n FROM daily_counts WHERE org_id = 1 ORDER BY day")).all()
        assert [(str(day), kind, n) for day, kind, n in days] == [
            ("2026-01-02", "viewed", 1), ("2026-01-03", "viewed", 1)]
        db.session.remove()
        downgrade(revision="0014")
        db.engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_named_states_are_checked_and_the_rows_already_stored_stay(tmp_path, kind):
    with empty_database(tmp_path, kind):
        upgrade(revision="0019")
        with db.engine.begin() as connection:
            for statement in [
                *ORGANIZATION,
                "INSERT INTO credentials (id, org_id, group_id, recipient_name, "
                "recipient_email, issue_state, send_email, token, created_at, email_status, "
                "public_id, share_views) VALUES (1, 1, 1, 'Jane', 'jane@example.com', "
                "'published', true, 't1', '2026-01-01', 'bounced', 'p1', 0)",
                "INSERT INTO email_messages (id, org_id, credential_id, to_address, state, "
                "attempts, next_attempt_at, message_id, token, created_at, open_count, "
                "is_reminder, bounce_kind, bounce_code) VALUES (1, 1, 1, 'jane@example.com', "
                "'bounced', 1, '2026-01-01', '<1@x>', 'm1', '2026-01-01', 0, false, 'hard', "
                "'mailbox_unknown')",
                "INSERT INTO suppressions (org_id, address, reason, email_message_id, "
                "created_at) VALUES (1, 'jane@example.com', 'bounced', 1, '2026-01-01')",
                "INSERT INTO webhook_endpoints (id, org_id, url, events, secret, created_at) "
                "VALUES (1, 1, 'https://hooks.example/x', '[\"*\"]', 'whsec_x', '2026-01-01')",
                "INSERT INTO webhook_messages (id, endpoint_id, webhook_id, type, occurred_at, "
                "state, attempts, next_attempt_at, lease_until) VALUES (1, 1, 'msg_1', "
                "'email.bounced', '2026-01-01', 'pending', 0, '2026-01-01', '2026-01-01')",
            ]:
                connection.execute(sa.text(statement))
            for event_id, type_ in enumerate(["queued", "bounced", "resent", "share_viewed"]):
                connection.execute(sa.text(
                    "INSERT INTO email_events (id, credential_id, type, at) "
                    "VALUES (:id, 1, :type, '2026-01-01')"), {"id": event_id + 1, "type": type_})
        upgrade()
        with db.engine.connect() as connection:
            assert connection.execute(sa.text(
                "SELECT type FROM email_events ORDER BY id")).scalars().all() == [
                "queued", "bounced", "resent", "share_viewed"]
            assert connection.execute(sa.text(
                "SELECT reason FROM suppressions")).scalar() == "bounced"
            assert connection.execute(sa.text(
                "SELECT lease_owner, state FROM webhook_messages")).one() == (None, "pending")
        for refused in [
                "INSERT INTO email_events (credential_id, type, at) "
                "VALUES (1, 'retracted', '2026-01-02')",
                "UPDATE email_messages SET bounce_kind = 'medium'",
                "UPDATE email_messages SET state = 'lost'",
                "UPDATE suppressions SET reason = 'disliked'"]:
            with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
                connection.execute(sa.text(refused))
        downgrade(revision="0019")
        with db.engine.begin() as connection:  # no check any more, the rows as they were
            connection.execute(sa.text("UPDATE suppressions SET reason = 'disliked'"))
            assert connection.execute(sa.text("SELECT count(*) FROM email_events")).scalar() == 4
            assert "lease_owner" not in {
                column["name"] for column in sa.inspect(connection).get_columns("webhook_messages")}
        db.engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_credentials_already_issued_get_status_list_places_and_reminders_a_purpose(tmp_path,
                                                                                  kind):
    with empty_database(tmp_path, kind):
        upgrade(revision="0020")
        with db.engine.begin() as connection:
            connection.execute(sa.text(ORGANIZATION[0]))
            connection.execute(sa.text(ORGANIZATION[0].replace("(1, 'Acme'", "(2, 'Rival'")))
            connection.execute(sa.text(ORGANIZATION[1]))
            for credential_id, org_id in ((1, 1), (2, 2), (3, 1)):
                connection.execute(sa.text(
                    "INSERT INTO credentials (id, org_id, group_id, recipient_name, "
                    "recipient_email, issue_state, send_email, token, created_at, email_status, "
                    "public_id, share_views) VALUES (:id, :org, 1, 'Jane', 'jane@example.com', "
                    "'published', true, :token, '2026-01-01', 'sending', :token, 0)"),
                    {"id": credential_id, "org": org_id, "token": f"t{credential_id}"})
            for message_id, reminder in ((1, False), (2, True)):
                connection.execute(sa.text(
                    "INSERT INTO email_messages (id, org_id, credential_id, to_address, state, "
                    "attempts, next_attempt_at, message_id, token, created_at, open_count, "
                    "is_reminder) VALUES (:id, 1, 1, 'jane@example.com', 'queued', 0, "
                    "'2026-01-01', :mid, :token, '2026-01-01', 0, :reminder)"),
                    {"id": message_id, "mid": f"<{message_id}@x>", "token": f"m{message_id}",
                     "reminder": reminder})
        upgrade()
        with db.engine.begin() as connection:
            assert connection.execute(sa.text(
                "SELECT id, status_index FROM credentials ORDER BY id")).all() == [
                (1, 0), (2, 0), (3, 1)]  # each organization's places, oldest first
            orgs = connection.execute(sa.text(
                "SELECT status_next, public_id FROM organizations ORDER BY id")).all()
            assert [org.status_next for org in orgs] == [2, 1]
            assert len({org.public_id for org in orgs}) == 2
            assert connection.execute(sa.text(
                "SELECT purpose FROM email_messages ORDER BY id")).scalars().all() == [
                "delivery", "reminder"]
            connection.execute(sa.text("UPDATE email_messages SET state = 'cancelled' "
                                       "WHERE id = 1"))
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE credentials SET status_index = 1 WHERE id = 1"))
        with db.engine.begin() as connection:
            connection.execute(sa.text("UPDATE email_messages SET state = 'queued'"))
        downgrade(revision="0020")
        with db.engine.connect() as connection:
            assert connection.execute(sa.text(
                "SELECT is_reminder FROM email_messages ORDER BY id")).scalars().all() == [
                False, True]
        db.engine.dispose()
