"""The Credentials page and its CSV by what recipients did with their credential."""

import csv
import io
import re

import pytest
import sqlalchemy as sa
from conftest import issue, mark_latest

import issuing
import jobs
from models import Credential, db
from models.types import utcnow
from timeline.recount import recount_funnel
from views.queries import filtered, page_of


@pytest.fixture
def engaged(issuer, rival):
    """Acme's recipients, each having done something else; one of Rival's who did it all."""
    now = utcnow()
    people = {}
    for name, columns in [
        ("Only Opened", {}),
        ("Viewer", {"viewed_at": now}),
        ("Downloader", {"viewed_at": now, "downloaded_at": now}),
        ("Linker", {"viewed_at": now, "linkedin_clicked_at": now}),
        ("Sharer", {"viewed_at": now, "share_views": 3}),
    ]:
        credential = mark_latest(issue(issuer, name=name, email=f"{name[:4].lower()}@x.org",
                                       action="publish"), "sent", opened=True)
        for column, value in columns.items():
            setattr(credential, column, value)
        people[name] = credential
    theirs = issue(rival, name="Rival Person", action="publish")
    theirs.viewed_at = theirs.downloaded_at = theirs.linkedin_clicked_at = now
    theirs.share_views = 1
    db.session.commit()
    for user in (issuer, rival):  # written around the write paths: counted by the repair
        recount_funnel(db.session.connection(), user.org_id)
    db.session.commit()
    return people


def names(html):
    return re.findall(r'hx-swap="outerHTML show:window:top">([^<]+)</a></td>', html)


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("filter_name, expected", [
    ("viewed", ["Sharer", "Linker", "Downloader", "Viewer"]),
    ("downloaded", ["Downloader"]),
    ("linkedin", ["Linker"]),
    ("shared", ["Sharer"]),
    ("nonsense", ["Sharer", "Linker", "Downloader", "Viewer", "Only Opened"]),  # all
])
def test_the_list_filters_by_engagement(logged_in, issuer, engaged, filter_name, expected):
    page = logged_in.get(f"/credentials?engaged={filter_name}").text
    assert names(page) == expected
    # The total, from the counts alone or counted with a status too.
    engaged = "" if filter_name == "nonsense" else filter_name  # as filter_args cleans it
    assert page_of(issuer.org_id, engaged=engaged)[1] == len(expected)
    assert page_of(issuer.org_id, "opened", engaged=engaged)[1] == len(expected)
    if filter_name != "nonsense":
        assert re.search(rf'data-engaged="{filter_name}"\s*aria-current="true"', page)
        # With the email status too, and kept by the status filters' links.
        assert f"/credentials?status=opened&amp;engaged={filter_name}" in page
        both = logged_in.get(f"/credentials?status=opened&engaged={filter_name}").text
        assert names(both) == expected


def test_each_row_says_what_its_recipient_did(logged_in, engaged):
    page = logged_in.get("/credentials").text
    marks = dict(re.findall(r'show:window:top">([^<]+)</a></td>.*?'
                            r'(?:<small class="engagement-mark"[^>]*>([^<]*)</small>|</tr>)',
                            page, re.S))
    assert marks == {"Sharer": "viewed · shared, 3 views", "Linker": "viewed · LinkedIn",
                     "Downloader": "viewed · PDF", "Viewer": "viewed", "Only Opened": ""}


def test_the_csv_has_the_engagement_and_follows_the_filter(logged_in, engaged):
    text = logged_in.get("/credentials/export.csv?engaged=shared").get_data(as_text=True)
    text = text.removeprefix("\ufeff")  # the mark that tells spreadsheets it is UTF-8
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["recipient_name"] for row in rows] == ["Sharer"]
    assert rows[0]["share_views"] == "3" and rows[0]["viewed_at"]
    assert rows[0]["downloaded_at"] == "" and rows[0]["linkedin_clicked_at"] == ""
    every = list(csv.DictReader(io.StringIO(
        logged_in.get("/credentials/export.csv").get_data(as_text=True).removeprefix("\ufeff"))))
    assert len(every) == 5  # never the other organization's recipient
    downloader = next(row for row in every if row["recipient_name"] == "Downloader")
    assert downloader["downloaded_at"] and downloader["share_views"] == "0"


def test_a_rare_filter_reads_its_own_index_once_statistics_are_gathered(app, issuer):
    """The hourly upkeep job shows SQLite that a rare filter's partial index is small."""
    new = [issuing.NewCredential(f"R{n}", f"r{n}@x.org", "Course A", "draft", None, True)
           for n in range(300)]
    ids = issuing.issue_new(db.session.connection(), issuer.org_id, issuer.id, new)
    db.session.execute(sa.update(Credential).where(Credential.id.in_(ids[::100]))
                       .values(linkedin_clicked_at=utcnow()))
    db.session.commit()
    jobs.run_upkeep_job(app)
    stat = db.session.execute(sa.text(  # without statistics the plan is a toss-up
        "SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_credentials_org_linkedin'")).scalar()
    assert stat == "3 3 1"  # 3 rows, 3 per organization, 1 per (organization, id)
    query = (filtered(issuer.org_id, engaged="linkedin").order_by(Credential.id.desc())
             .limit(50).offset(0).compile(dialect=db.engine.dialect))
    plan = db.session.connection().exec_driver_sql(
        f"EXPLAIN QUERY PLAN {query}", tuple(query.params[name] for name in query.positiontup))
    assert "USING INDEX ix_credentials_org_linkedin" in str(plan.all())
    assert [c.recipient_name for c in page_of(issuer.org_id, engaged="linkedin")[0]] == [
        "R200", "R100", "R0"]


def test_an_empty_filter_says_what_was_asked_in_words(logged_in, engaged):
    page = logged_in.get("/credentials?status=bounced&engaged=linkedin&q=zed").text
    words = " ".join(page.split())
    assert ("Nothing with the status “Email is bounced” among recipients who added to "
            "LinkedIn matches “zed”.") in words
