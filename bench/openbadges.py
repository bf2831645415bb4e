"""What Open Badges cost: signing each credential, and verifying it on its public page.

sign:  COUNT credentials' Open Badges built (documents.open_badge) and signed as VC-JWTs
       (Ed25519, joserfc) the first time, then asked for again (the token is kept per
       process until the credential changes), against building the documents alone.
page:  VIEWS views of one public page /v/<id>, which checks the signature, the signed
       status list and the dates on every request (a signature check of the same token
       with the same keys is kept per process), against the same page with the check
       replaced by what the database says (the page before Open Badges), in turns.
Run: .venv/bin/python bench/openbadges.py   (SQLite, in a temp folder)
"""

import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from bench.common import issuer_with_credentials, sized  # noqa: E402
from models import Credential, db  # noqa: E402
from openbadges import documents, signing, verify  # noqa: E402

COUNT = sized(1000, 20)
VIEWS = sized(500, 10)
ROUNDS = sized(5, 1)


def timed(work):
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def database_only(credential, now=None):
    """The public page's verdict before Open Badges: what the database says."""
    if credential.revoked_at:
        return verify.Verdict("revoked")
    if credential.expired(now):
        return verify.Verdict("expired")
    return verify.Verdict("verified")


def main():
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/badges.db",
                          "SECRET_KEY": "bench", "MAIL_SERVER": "127.0.0.1",
                          "PUBLIC_RATE_LIMIT": "100000 per minute"})
        with app.app_context():
            db.create_all()
            issuer_with_credentials(COUNT)
            credentials = db.session.scalars(sa.select(Credential)).all()
            org = credentials[0].org
            signing.sign(documents.open_badge(credentials[0]), org)  # the key made

            def build():
                for credential in credentials:
                    documents.open_badge(credential)

            def sign():
                for credential in credentials:
                    signing.sign(documents.open_badge(credential), org)

            built = timed(build)
            signing._signed.cache_clear()
            first = timed(sign)
            again = timed(sign)
            public_id = credentials[0].public_id

        client = app.test_client()
        assert b"Verified" in client.get(f"/v/{public_id}").data  # warm, and checked

        def views():
            for _ in range(VIEWS // ROUNDS):
                assert client.get(f"/v/{public_id}").status_code == 200

        checked = plain = 0
        real_check = verify.check
        for _ in range(ROUNDS):  # taken in turns, so that the machine's load falls on both
            checked += timed(views)
            verify.check = database_only
            try:
                plain += timed(views)
            finally:
                verify.check = real_check

    print(f"sign: {COUNT} credentials")
    for label, seconds in (("build only", built), ("build and sign", first),
                           ("asked again", again)):
        print(f"  {label:16}{seconds:7.3f} s {COUNT / seconds:9.0f} badges/s")
    print(f"  signing alone: {(first - built) / COUNT * 1e6:.0f} µs per credential; "
          f"signed / cached = {first / again:.1f} (seconds)")
    print(f"page: {VIEWS} views of one public page")
    for label, seconds in (("checked", checked), ("database only", plain)):
        print(f"  {label:16}{seconds:7.3f} s {VIEWS / seconds:9.0f} views/s "
              f"{seconds / VIEWS * 1000:6.2f} ms each")
    print(f"  checked / database only = {checked / plain:.2f} (seconds; target ≤ 1.5)")


if __name__ == "__main__":
    main()
