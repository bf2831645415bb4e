"""What the team costs the busiest calls: the API issue call (POST /api/v1/credentials,
which now also checks the key's role and writes an audit entry in its transaction) and the
Credentials page (the role check), against the same calls with the role check and the
audit log switched off, in alternating rounds on one SQLite file.
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
PAGES = sized(100, 5)
ROUNDS = sized(5, 1)


def main():
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/team.db",
                          "SECRET_KEY": "bench", "MAIL_SERVER": "127.0.0.1",
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
        with app.app_context():
            db.create_all()
            user = issuer_with_credentials(1000, "Bench Academy")
            _, key = ApiKey.issue(user)
            db.session.commit()
        headers = {"Authorization": f"Bearer {key}"}
        api, browser = app.test_client(), app.test_client()
        browser.post("/login", data={"email": "bench@example.com",
                                     "password": "bench-password"})
        checks, record = app.before_request_funcs[None], audit.record
        numbers = iter(range(10**9))

        def timed(team):
            """(seconds of the issue calls, seconds of the page views) with the team's
            checks and log on or off."""
            app.before_request_funcs[None] = checks if team else [
                check for check in checks if check is not access.check]
            audit.record = record if team else (lambda *args, **kwargs: None)
            start = time.perf_counter()
            for _ in range(CALLS // ROUNDS):
                answer = api.post("/api/v1/credentials", headers=headers, json={
                    "recipient_name": f"New {next(numbers)}", "group": "Benchmarks 101",
                    "recipient_email": "new@example.com", "action": "publish"})
                assert answer.status_code == 201, answer.text
            issued = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(PAGES // ROUNDS):
                assert browser.get("/credentials").status_code == 200
            return issued, time.perf_counter() - start

        timed(True), timed(False)  # warm
        totals = {True: [0, 0], False: [0, 0]}
        for _ in range(ROUNDS):
            for team in (False, True):
                issued, paged = timed(team)
                totals[team][0] += issued
                totals[team][1] += paged
        audit.record = record
    calls, pages = CALLS // ROUNDS * ROUNDS, PAGES // ROUNDS * ROUNDS
    print(f"team: {calls} API issue calls and {pages} Credentials pages, {ROUNDS} rounds")
    for team, label in ((False, "before (no roles, no log)"), (True, "with roles and log")):
        issued, paged = totals[team]
        print(f"  {label:27} issue {issued / calls * 1e3:6.2f} ms   "
              f"page {paged / pages * 1e3:6.2f} ms")
    print(f"  issue with / before = {totals[True][0] / totals[False][0]:.2f}, "
          f"page with / before = {totals[True][1] / totals[False][1]:.2f} (target ≤ 1.1)")


if __name__ == "__main__":
    main()
