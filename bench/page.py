"""Credentials page cost with 1,000 and with 100,000 credentials in the database.

Prints the median server time of the page (and of its counts alone) at each size and
their ratio; the target is a ratio under 2: the page costs what it shows.
Run: .venv/bin/python bench/page.py [DATABASE_URL]   (default: SQLite files in a temp folder)
"""

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accounts import create_user  # noqa: E402
from app import create_app  # noqa: E402
from bench.common import sized  # noqa: E402
from models import (  # noqa: E402
    Credential,
    CredentialGroup,
    EmailEvent,
    EmailMessage,
    StatusCount,
    db,
    refresh_statistics,
)
from models.types import utcnow  # noqa: E402
from timeline.recount import recount_funnel  # noqa: E402
from views.queries import status_counts  # noqa: E402

# (status, message state, opened) in the proportions a busy issuer might see.
MIX = [("not_sent", None, False)] * 2 + [("not_provided", None, False)] + [
    ("sending", "queued", False), ("not_opened", "sent", False), ("not_opened", "sent", False),
    ("bounced", "bounced", False), ("opened", "sent", True), ("opened", "sent", True),
    ("opened", "sent", True)]
RUNS = sized(40, 3)


def fill(count):
    """Insert count credentials (and their messages) in bulk for one organization."""
    user = create_user("bench@example.com", "Bench", "bench-password")
    group = CredentialGroup(org_id=user.org_id, name="Bench group")
    db.session.add(group)
    db.session.commit()
    now = utcnow()
    for start in range(0, count, 10_000):
        rows, messages, events = [], [], []
        for i in range(start, min(count, start + 10_000)):
            status, state, opened = MIX[i % len(MIX)]
            rows.append({"id": i + 1, "org_id": user.org_id, "group_id": group.id,
                         "recipient_name": f"Recipient {i}",
                         "recipient_email": None if status == "not_provided"
                         else f"r{i}@example.com",
                         "issue_state": "draft" if status == "not_sent" else "published",
                         "published_at": None if status == "not_sent" else now,
                         "send_email": True, "token": f"t{i}", "created_at": now,
                         "email_status": status,
                         # Of the opened, a third viewed and a ninth downloaded (Analytics);
                         # 60 added it to LinkedIn, whatever the count (a rare filter
                         # at 100,000: its page has as many rows as at 1,000).
                         "viewed_at": now if opened and i % 3 == 0 else None,
                         "downloaded_at": now if opened and i % 9 == 0 else None,
                         "linkedin_clicked_at": now if i % max(count // 60, 8) == 7 else None})
            if state:
                messages.append({"org_id": user.org_id, "credential_id": i + 1,
                                 "to_address": f"r{i}@example.com", "state": state,
                                 "attempts": 1, "next_attempt_at": now, "token": f"m{i}",
                                 "message_id": f"<{i}@bench.test>", "created_at": now,
                                 "sent_at": now if state == "sent" else None,
                                 "opened_at": now if opened else None, "open_count": 0})
            if opened:  # an open event on one of the last 40 days, for the day chart
                events.append({"credential_id": i + 1, "type": "opened",
                               "at": now - timedelta(days=i % 40)})
        db.session.execute(sa.insert(Credential), rows)
        if messages:
            db.session.execute(sa.insert(EmailMessage), messages)
        if events:
            db.session.execute(sa.insert(EmailEvent), events)
        db.session.commit()
    # The bulk insert wrote no counts.
    db.session.execute(sa.insert(StatusCount).from_select(
        ["org_id", "status", "n"],
        sa.select(Credential.org_id, Credential.email_status, sa.func.count())
        .where(Credential.org_id == user.org_id)
        .group_by(Credential.org_id, Credential.email_status)))
    recount_funnel(db.session.connection(), user.org_id)
    db.session.commit()
    # Fresh statistics, as a running database has: the workers' hourly job on SQLite;
    # autovacuum on PostgreSQL (VACUUM also fills the visibility map that index-only
    # counts need).
    if db.engine.dialect.name == "sqlite":
        refresh_statistics()
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))


def median_ms(call):
    call()  # warm caches and templates
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(count, url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
                      "SECRET_KEY": "bench", "MAIL_SERVER": "127.0.0.1"})
    with app.app_context():
        db.drop_all()
        db.create_all()
        fill(count)
        org_id = db.session.scalar(sa.select(CredentialGroup.org_id))
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.com", "password": "bench-password"})

        def page(path):
            response = client.get(path)
            assert response.status_code == 200 and b"data-email-status" in response.data

        def analytics():
            response = client.get("/analytics")
            assert response.status_code == 200 and b"<svg" in response.data
        result = {
            "page": median_ms(lambda: page("/credentials")),
            "filtered": median_ms(lambda: page("/credentials?status=bounced")),
            "engaged": median_ms(lambda: page("/credentials?engaged=viewed")),
            "rare": median_ms(lambda: page("/credentials?engaged=linkedin")),
            "fragment": median_ms(lambda: client.get("/credentials?page=3",
                                                     headers={"HX-Request": "true"})),
            "counts": median_ms(lambda: status_counts(org_id)),
            "search": median_ms(lambda: page("/credentials?q=Recipient%2099")),
            "analytics": median_ms(lambda: analytics()),
        }
        db.engine.dispose()
    return result


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else None
    url = url and url.replace("postgresql://", "postgresql+psycopg://")
    with tempfile.TemporaryDirectory() as folder:
        small = measure(sized(1_000, 100), url or f"sqlite:///{folder}/page-small.db")
        large = measure(sized(100_000, 1_000), url or f"sqlite:///{folder}/page-large.db")
    print("database:", (url or "sqlite").split(":")[0])
    print(f"{'':24}{'1,000':>10}{'100,000':>10}{'ratio':>8}")
    for key, label in [("page", "Credentials page"), ("filtered", "page, one status"),
                       ("engaged", "page, viewed"), ("rare", "page, LinkedIn (rare)"),
                       ("fragment", "htmx page 3"),
                       ("counts", "counts per status"),
                       ("search", "text search (scans)"), ("analytics", "Analytics page")]:
        print(f"{label:24}{small[key]:>8.2f}ms{large[key]:>8.2f}ms"
              f"{large[key] / small[key]:>8.2f}")
    ratio = large["page"] / small["page"]
    print(f"page ratio 100,000 / 1,000 = {ratio:.2f} (target < 2)")
    ratio = large["analytics"] / small["analytics"]
    print(f"Analytics ratio 100,000 / 1,000 = {ratio:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
