"""What the team costs the busiest calls: the API issue call (POST /api/v1/credentials,
which now also checks the key's role and writes an audit entry in its transaction) and the
Credentials page (the role check), against the same calls with the role check and the
audit log switched off: the calls in alternating rounds, then the page view by view, on
one SQLite file.
Run: .venv/bin/python bench/team.py
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import audit  # noqa: E402
from app import create_app  # noqa: E402
from bench.common import issuer_with_credentials, sized  # noqa: E402
from models import ApiKey, db  # noqa: E402
from views import access  # noqa: E402

CALLS = sized(300, 10)
PAGES = sized(200, 5)
ROUNDS = sized(5, 1)


def main():
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/team.db",
                          "SECRET_KEY": "bench", "MAIL_SERVER": "127.0.0.1",
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
        with app.app_context():
            db.create_all()
            user = issuer_with_credentials(sized(1000, 100), "Bench Academy")
            _, key = ApiKey.issue(user)
            db.session.commit()
        headers = {"Authorization": f"Bearer {key}"}
        api, browser = app.test_client(), app.test_client()
        browser.post("/login", data={"email": "bench@example.com",
                                     "password": "bench-password"})
        checks, record = app.before_request_funcs[None], audit.record
        numbers = iter(range(10**9))

        def switch(team):
            """The role check and the audit log on, or both off (the code before)."""
            app.before_request_funcs[None] = checks if team else [
                check for check in checks if check is not access.check]
            audit.record = record if team else (lambda *args, **kwargs: None)

        def issue_calls(team, count):
            switch(team)
            start = time.perf_counter()
            for _ in range(count):
                answer = api.post("/api/v1/credentials", headers=headers, json={
                    "recipient_name": f"New {next(numbers)}", "group": "Benchmarks 101",
                    "recipient_email": "new@example.com", "action": "publish"})
                assert answer.status_code == 201, answer.text
            return time.perf_counter() - start

        def page_view(team):
            switch(team)
            start = time.perf_counter()
            assert browser.get("/credentials").status_code == 200
            return time.perf_counter() - start

        issue_calls(True, 5), issue_calls(False, 5), page_view(True)  # warm
        totals = {True: [0, 0], False: [0, 0]}
        for _ in range(ROUNDS):  # the issue calls in alternating rounds
            for team in (False, True):
                totals[team][0] += issue_calls(team, CALLS // ROUNDS)
        for _ in range(PAGES):  # then the page, alternating view by view (same rows)
            for team in (False, True):
                totals[team][1] += page_view(team)
        audit.record = record
    calls, pages = CALLS // ROUNDS * ROUNDS, PAGES
    print(f"team: {calls} API issue calls and {pages} Credentials pages, {ROUNDS} rounds")
    for team, label in ((False, "before (no roles, no log)"), (True, "with roles and log")):
        issued, paged = totals[team]
        print(f"  {label:27} issue {issued / calls * 1e3:6.2f} ms   "
              f"page {paged / pages * 1e3:6.2f} ms")
    print(f"  issue with / before = {totals[True][0] / totals[False][0]:.2f}, "
          f"page with / before = {totals[True][1] / totals[False][1]:.2f} (target ≤ 1.1)")


if __name__ == "__main__":
    main()
