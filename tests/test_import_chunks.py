"""An import issues a chunk at a time, each its own short transaction, and stays
all-or-nothing: nothing of it is seen, counted or mailed until it is done."""

import pytest
import sqlalchemy as sa
from conftest import api_for
from test_imports import HEADER, checked, issue_import, latest_job, work

import importer.issue
import issuing.new
from mailer.claim import claim_messages
from mailer.health import due_now
from models import (
    Credential,
    CredentialGroup,
    EmailEvent,
    EmailMessage,
    FunnelCount,
    ImportJob,
    LeaseLost,
    StatusCount,
    Suppression,
    db,
)
from models.types import utcnow

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
ROWS = 35  # four chunks of 10


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(importer.issue, "CHUNK", 10)


def rows_text(group="New group"):
    return HEADER + "".join(f"Person {i},p{i}@example.com,{group}\n" for i in range(ROWS))


def counted(table):
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(table))


def funnel(org_id):
    return dict(db.session.execute(sa.select(FunnelCount.stage, sa.func.sum(FunnelCount.n))
                                   .where(FunnelCount.org_id == org_id)
                                   .group_by(FunnelCount.stage)).all())


def nothing_shown(app, client, issuer, api, before):
    """No page, count, API answer or queue claim shows any credential of the import."""
    assert "Person" not in client.get("/credentials").text
    assert "Person" not in client.get("/credentials?q=person").text
    for query in ("", "?q=person"):
        found = api.get(f"/api/v1/credentials{query}").json
        assert (found["items"], found["total"]) == ([], 0)
    assert StatusCount.for_org(issuer.org_id) == before["statuses"]
    assert funnel(issuer.org_id) == before["funnel"]
    assert due_now().count == 0
    assert claim_messages(100, "a worker") == []


@BOTH
def test_an_error_in_a_middle_chunk_leaves_nothing_then_a_second_run_issues_all(
        app, logged_in, issuer, small_chunks, monkeypatch):
    job = checked(app, logged_in, rows_text())
    before = {"statuses": StatusCount.for_org(issuer.org_id), "funnel": funnel(issuer.org_id)}
    stage, calls = issuing.new.stage, []

    def failing_third(*args):
        calls.append(args)
        if len(calls) == 3:  # two chunks are committed by now
            raise RuntimeError("the disk is full")
        return stage(*args)

    monkeypatch.setattr(importer.issue, "stage", failing_third)
    job = issue_import(app, logged_in, job)
    assert len(calls) == 3
    assert job.state == "checked"
    assert job.error.startswith("Issuing stopped on an unexpected error (RuntimeError). "
                                "Nothing was issued")
    assert (job.issued_through, job.new_groups) == (None, None)
    assert (counted(Credential), counted(EmailMessage), counted(EmailEvent)) == (0, 0, 0)
    assert "New group" not in {g.name for g in CredentialGroup.for_org(issuer.org_id)}
    nothing_shown(app, logged_in, issuer, api_for(logged_in, issuer), before)
    # Tried again, it issues every row, counted once.
    monkeypatch.setattr(importer.issue, "stage", stage)
    job = issue_import(app, logged_in, job)
    assert (job.state, job.issued, job.queued) == ("done", ROWS, ROWS)
    assert (counted(Credential), counted(EmailMessage), counted(EmailEvent)) == (ROWS,) * 3
    assert StatusCount.for_org(issuer.org_id)["sending"] == ROWS
    assert funnel(issuer.org_id)["credentials"] == ROWS
    assert due_now().count == ROWS


@BOTH
def test_chunks_written_are_hidden_until_shown_and_a_new_worker_finishes(
        app, logged_in, issuer, small_chunks, monkeypatch):
    api = api_for(logged_in, issuer)
    job = checked(app, logged_in, rows_text("Course A"))
    before = {"statuses": StatusCount.for_org(issuer.org_id), "funnel": funnel(issuer.org_id)}

    def dies(*_args):  # the worker dies once every chunk is written
        raise LeaseLost

    show = importer.issue._show
    monkeypatch.setattr(importer.issue, "_show", dies)
    job = issue_import(app, logged_in, job)
    assert (job.state, job.issued_through) == ("issuing", ROWS + 1)
    assert counted(Credential) == ROWS and counted(EmailMessage) == ROWS
    nothing_shown(app, logged_in, issuer, api, before)
    # Its lease runs out: the next worker shows them all and releases their emails.
    monkeypatch.setattr(importer.issue, "_show", show)
    db.session.execute(sa.update(ImportJob).values(lease_until=utcnow()))
    db.session.commit()
    work(app)
    job = db.session.get(ImportJob, job.id)
    assert (job.state, job.issued, job.queued) == ("done", ROWS, ROWS)
    page = api.get("/api/v1/credentials?per_page=100").json
    assert (len(page["items"]), page["total"]) == (ROWS, ROWS)
    assert StatusCount.for_org(issuer.org_id)["sending"] == ROWS
    assert funnel(issuer.org_id)["credentials"] == ROWS
    messages = db.session.scalars(sa.select(EmailMessage)).all()
    assert all(m.next_attempt_at == m.created_at for m in messages)
    assert len(claim_messages(100, "a worker")) == ROWS


@BOTH
def test_another_writer_gets_the_write_lock_between_chunks(app, logged_in, issuer,
                                                           small_chunks, monkeypatch):
    job = checked(app, logged_in, rows_text())
    chunk_end, wrote = importer.issue._chunk_end, []

    def between_chunks(import_id, after):
        if after:  # a chunk is committed: another connection writes at once, without waiting
            with db.engine.connect() as other:
                if db.engine.dialect.name == "sqlite":
                    other.exec_driver_sql("PRAGMA busy_timeout = 0")
                else:
                    other.exec_driver_sql("SET lock_timeout = '1ms'")
                other.execute(sa.text("UPDATE organizations SET status_next = status_next"))
                other.commit()
            wrote.append(after)
        return chunk_end(import_id, after)

    monkeypatch.setattr(importer.issue, "_chunk_end", between_chunks)
    job = issue_import(app, logged_in, job)
    assert job.state == "done"
    assert wrote == [11, 21, 31, ROWS + 1]  # the lines are 2 to 36


def test_a_crash_while_removing_is_finished_by_the_next_worker(app, logged_in, issuer,
                                                               small_chunks, monkeypatch):
    job = checked(app, logged_in, rows_text())
    show = importer.issue._show
    monkeypatch.setattr(importer.issue, "_show", lambda *_: None)  # stops after the chunks
    issue_import(app, logged_in, job)
    monkeypatch.setattr(importer.issue, "_show", show)
    # The worker noted the error and removed the last chunk (lines 32 to 36), then died.
    db.session.execute(sa.update(ImportJob).values(error="Issuing stopped", issued_through=31,
                                                   lease_until=utcnow()))
    db.session.execute(sa.delete(Credential).where(Credential.id > 30))
    db.session.commit()
    work(app)
    job = latest_job()
    assert (job.state, job.error) == ("checked", "Issuing stopped")
    assert (counted(Credential), counted(EmailMessage), counted(EmailEvent)) == (0, 0, 0)
    assert "New group" not in {g.name for g in CredentialGroup.for_org(issuer.org_id)}


@BOTH
def test_a_suppressed_address_bounces_once_the_import_is_shown(app, logged_in, issuer,
                                                               small_chunks):
    db.session.add(Suppression(org_id=issuer.org_id, address="p25@example.com",
                               reason="bounced"))
    db.session.commit()
    job = issue_import(app, logged_in, checked(app, logged_in, rows_text()))
    assert (job.state, job.queued) == ("done", ROWS)
    counts = StatusCount.for_org(issuer.org_id)
    assert (counts["sending"], counts["bounced"]) == (ROWS - 1, 1)
    (bounced,) = db.session.scalars(sa.select(Credential).where(
        Credential.email_status == "bounced")).all()
    assert bounced.recipient_email == "p25@example.com"
    assert [(e.type, e.code) for e in bounced.events()] == [
        ("queued", None), ("bounced", "suppressed_bounce")]
    assert len(claim_messages(100, "a worker")) == ROWS - 1
