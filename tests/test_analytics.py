"""The Analytics page and the group stats API: the funnel, the day chart, the scoping."""

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import api_for, issue, mark_latest, new_group

from accounts import create_user
from mailer.queue import send_due
from models import Credential, CredentialGroup, EmailEvent, EmailMessage, db, funnel_count
from models.types import utcnow
from timeline.recount import recount_funnel
from tracking import engagement, opens

SVG = "{http://www.w3.org/2000/svg}"


def crafted(issuer):
    """Course A: 5 credentials. 4 sent (one of them resent: counts once), 3 opened (one
    only through a view), 2 viewed, 1 downloaded, 1 added to LinkedIn; one never sent.
    Course B: 1 sent, nothing else."""
    now = utcnow()
    sent = [mark_latest(issue(issuer, name=f"A{n}", email=f"a{n}@example.com",
                              action="publish"), "sent") for n in range(4)]
    issue(issuer, name="Draft", email="d@example.com")  # never sent
    for credential in sent:
        credential.latest_message.sent_at = now - timedelta(days=2)
    sent[0].latest_message.opened_at = now
    sent[1].latest_message.opened_at = now
    sent[1].viewed_at = sent[2].viewed_at = now  # sent[2] opened only by the view
    sent[0].downloaded_at = now
    sent[1].linkedin_clicked_at = now
    # A second message to the first credential, opened too: still one credential.
    first = sent[0].latest_message
    resent = type(first)(org_id=first.org_id, credential_id=sent[0].id,
                         to_address=first.to_address, state="sent", sent_at=now,
                         opened_at=now, message_id="<resent@acme.test>")
    db.session.add(resent)
    b = mark_latest(issue(issuer, name="B", email="b@example.com", group="Course B",
                          action="publish"), "sent")
    b.latest_message.sent_at = now
    # Events for the chart: 2 opens today, 1 yesterday, 1 view today; one 40 days ago.
    for kind, days_ago in (("opened", 0), ("opened", 0), ("opened", 1), ("viewed", 0),
                           ("opened", 40)):
        db.session.add(EmailEvent(credential_id=sent[0].id, type=kind,
                                  at=now - timedelta(days=days_ago)))
    db.session.commit()
    # Written around the write paths, so counted by the repair (test_counted_as_it_happens
    # takes the real paths).
    recount_funnel(db.session.connection(), issuer.org_id)
    db.session.commit()
    return {group.name: group.id for group in CredentialGroup.for_org(issuer.org_id)}


def row(html, group_id):
    """{stage: count} of one group's row on the page."""
    found = re.search(rf'<tr class="[^"]*" data-group="{group_id}">(.*?)</tr>', html, re.S)
    return {stage: int(count.replace(",", "")) for stage, count in re.findall(
        r'data-stage="(\w+)">(?:<span class="n">)?([\d,]+)', found.group(1))}


def svg_of(html):
    return ET.fromstring(re.search(r"<svg .*?</svg>", html, re.S).group(0))


@pytest.mark.parametrize("app", ["sqlite", "postgres"], indirect=True)
def test_the_funnel_counts_each_credential_once_per_stage(logged_in, issuer, client):
    groups = crafted(issuer)
    api = api_for(client, issuer)
    stats = api.get(f"/api/v1/groups/{groups['Course A']}/stats").json
    assert stats["group"] == "Course A" and stats["credentials"] == 5
    assert stats["counts"] == {"sent": 4, "opened": 3, "viewed": 2, "engaged": 2}
    assert stats["rates"] == {"sent": 0.8, "opened": 0.75, "viewed": 0.5, "engaged": 0.5}
    today = utcnow().date()
    daily = {d["date"]: (d["opened"], d["viewed"]) for d in stats["daily"]}
    assert len(daily) == 30 and min(daily) == (today - timedelta(days=29)).isoformat()
    assert daily[today.isoformat()] == (2, 1)
    assert daily[(today - timedelta(days=1)).isoformat()] == (1, 0)
    assert sum(o + v for o, v in daily.values()) == 4  # 40 days ago is not shown
    other = api.get(f"/api/v1/groups/{groups['Course B']}/stats").json
    assert other["counts"] == {"sent": 1, "opened": 0, "viewed": 0, "engaged": 0}
    assert all(d["opened"] == d["viewed"] == 0 for d in other["daily"])

    html = logged_in.get("/analytics").get_data(as_text=True)
    assert row(html, groups["Course A"]) == {"credentials": 5, "sent": 4, "opened": 3,
                                             "viewed": 2, "engaged": 2}
    assert row(html, 0) == {"credentials": 6, "sent": 5, "opened": 3, "viewed": 2,
                            "engaged": 2}
    assert ">75%<" in html and ">60%<" in html  # Course A's opens; all groups' opens
    svg = svg_of(html)
    bars = {(bar.get("data-kind"), bar.get("data-day")): int(bar.get("data-count"))
            for bar in svg.iter(f"{SVG}rect")}
    assert len(bars) == 60
    assert not [element for element in svg.iter() if "style" in element.attrib]  # the CSP
    assert bars[("opened", today.isoformat())] == 2 and bars[("viewed", today.isoformat())] == 1
    tallest = max(svg.iter(f"{SVG}rect"), key=lambda bar: float(bar.get("height")))
    assert tallest.get("data-count") == "2"


def test_the_page_and_the_api_see_only_their_organization(logged_in, issuer, rival, client):
    groups = crafted(issuer)
    theirs = issue(rival, name="Theirs", email="t@example.com", group="Rival course")
    rival_api = api_for(client, rival)
    response = rival_api.get(f"/api/v1/groups/{groups['Course A']}/stats")
    assert response.status_code == 404 and response.json["error"]
    assert rival_api.get(f"/api/v1/groups/{theirs.group_id}/stats").json["credentials"] == 1
    assert api_for(client, issuer).get(
        f"/api/v1/groups/{theirs.group_id}/stats").status_code == 404
    html = logged_in.get("/analytics").get_data(as_text=True)
    assert "Rival course" not in html and f'data-group="{theirs.group_id}"' not in html
    client.post("/logout")
    client.post("/login", data={"email": "issuer@rival.test",
                                "password": "correct horse battery"})
    html = client.get("/analytics").get_data(as_text=True)
    assert "Rival course" in html and "Course A" not in html
    assert not any(int(bar.get("data-count")) for bar in svg_of(html).iter(f"{SVG}rect"))


def test_the_empty_state_divides_by_nothing(logged_in, issuer, client):
    response = logged_in.get("/analytics")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-empty="funnel"' in html and 'data-empty="chart"' in html
    assert len(list(svg_of(html).iter(f"{SVG}rect"))) == 60
    group = new_group(issuer.org_id, "Empty course")
    issue(issuer, group="Unsent course")  # a draft: nothing sent, so no rate
    db.session.commit()
    api = api_for(client, issuer)
    stats = api.get(f"/api/v1/groups/{group.id}/stats").json
    assert stats["credentials"] == 0 and set(stats["rates"].values()) == {0.0}
    html = logged_in.get("/analytics").get_data(as_text=True)
    assert "Empty course" in html and "Unsent course" in html and "–" in html
    assert 'href="/analytics"' in html  # the navigation


def test_the_page_needs_a_login_and_the_api_a_key(client):
    assert client.get("/analytics").status_code in (302, 401)
    assert client.get("/api/v1/groups/1/stats").status_code == 401


PERSON = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0",
          "Accept-Language": "en"}


@pytest.mark.parametrize("mail_app", ["sqlite", "postgres"], indirect=True)
def test_counted_as_it_happens(mail_app):
    """Sent by the queue to a real server, opened, viewed, downloaded, added to LinkedIn
    and resent through the app's own routes: the counts say what happened, once per
    credential, and agree with a count from scratch."""
    issuer = create_user("issuer@acme.test", "Acme Academy", "correct horse battery")
    client = mail_app.test_client()
    api = api_for(client, issuer)
    people = [{"recipient_name": f"A{n}", "recipient_email": f"a{n}@example.com",
               "group": "Course A", "action": "publish"} for n in range(4)]
    people += [{"recipient_name": "Draft", "recipient_email": "d@example.com",
                "group": "Course A"},
               {"recipient_name": "B", "recipient_email": "b@example.com",
                "group": "Course B", "action": "publish"}]
    ids = [r["id"] for r in api.post("/api/v1/credentials/bulk",
                                     json={"credentials": people}).json["results"]]
    assert send_due()["sent"] == 5

    def token_of(credential_id):
        db.session.rollback()
        return db.session.scalars(sa.select(EmailMessage.token).filter_by(
            credential_id=credential_id).order_by(EmailMessage.id.desc())).first()

    for credential_id in ids[:2]:  # A0, A1 open the email twice
        for _ in range(2):
            client.get(f"/t/{token_of(credential_id)}.gif", headers=PERSON)
    opens.recorder(mail_app).flush()
    a1_page = client.get(f"/r/{token_of(ids[1])}", headers=PERSON)  # A1 views
    assert a1_page.status_code == 302  # to the credential page
    client.get(f"/r/{token_of(ids[2])}", headers=PERSON)  # A2 views without the image
    credential_tokens = {c.id: c.token for c in db.session.scalars(
        sa.select(Credential).where(Credential.id.in_(ids)))}
    for _ in range(2):  # A0 downloads twice, then adds to LinkedIn
        client.get(f"/c/{credential_tokens[ids[0]]}.pdf", headers=PERSON)
    client.get(f"/c/{credential_tokens[ids[0]]}/linkedin", headers=PERSON)
    client.get(f"/c/{credential_tokens[ids[1]]}/linkedin", headers=PERSON)
    public_id = db.session.get(Credential, ids[1]).public_id
    for _ in range(2):  # A1's shared page seen twice by someone
        mail_app.test_client().get(f"/v/{public_id}", headers=PERSON)
    engagement.shares(mail_app).flush()
    # A0 is sent again and opens the new email: still one credential at each stage.
    assert api.post(f"/api/v1/credentials/{ids[0]}/resend").status_code == 202
    assert send_due()["sent"] == 1
    client.get(f"/t/{token_of(ids[0])}.gif", headers=PERSON)
    opens.recorder(mail_app).flush()

    groups = {group.name: group.id for group in CredentialGroup.for_org(issuer.org_id)}
    stats = {name: api.get(f"/api/v1/groups/{group_id}/stats").json
             for name, group_id in groups.items()}
    assert stats["Course A"]["credentials"] == 5
    assert stats["Course A"]["counts"] == {"sent": 4, "opened": 3, "viewed": 2, "engaged": 2}
    assert stats["Course B"]["counts"] == {"sent": 1, "opened": 0, "viewed": 0, "engaged": 0}
    today = {name: next(d for d in s["daily"] if d["date"] == utcnow().date().isoformat())
             for name, s in stats.items()}
    # Opens in the timeline today: A0's 3 and A1's 2; views: A1's and A2's.
    assert (today["Course A"]["opened"], today["Course A"]["viewed"]) == (5, 2)
    # The totals of the Credentials page's engagement filters.
    filters = ("viewed", "downloaded", "linkedin", "shared")
    totals = {stage: funnel_count.org_total(issuer.org_id, stage) for stage in filters}
    assert totals == {"viewed": 2, "downloaded": 1, "linkedin": 2, "shared": 1}
    db.session.rollback()
    recount_funnel(db.session.connection(), issuer.org_id)
    db.session.commit()
    assert {name: api.get(f"/api/v1/groups/{group_id}/stats").json
            for name, group_id in groups.items()} == stats
    assert {stage: funnel_count.org_total(issuer.org_id, stage) for stage in filters} == totals
