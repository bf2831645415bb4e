"""What the issuer's own email costs: COUNT delivery emails composed (mailer.compose, what
the queue builds before sending) with the organization's Markdown template, placeholders,
logo and colour, against the same emails with our default words and no brand, in
alternating rounds.
Run: .venv/bin/python bench/email_template.py   (SQLite, in a temp folder)
"""

import io
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import branding  # noqa: E402
from app import create_app  # noqa: E402
from bench.common import issuer_with_credentials, sized  # noqa: E402
from mailer.compose import compose  # noqa: E402
from models import EmailMessage, db  # noqa: E402

COUNT = sized(2000, 20)
ROUNDS = sized(5, 1)
TEMPLATE = ("Dear {recipient_name},\n\n**{organization_name}** is proud to award you "
            "*{credential_name}*, issued on {issue_date} and valid until {expiry_date}.\n\n"
            "What next:\n\n- add it to your [LinkedIn profile](https://www.linkedin.com/)\n"
            "- read [our alumni guide](https://example.org/alumni)\n"
            "- questions? [write to us](mailto:help@example.org)\n\n"
            "> Keep learning!")


def main():
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/mail.db",
                          "SECRET_KEY": "bench", "MAIL_SERVER": "127.0.0.1"})
        with app.app_context():
            db.create_all()
            user = issuer_with_credentials(COUNT, "Bench Academy")
            messages = db.session.scalars(sa.select(EmailMessage)).all()
            org = user.org
            sizes = {}

            logo = io.BytesIO()
            Image.new("RGB", (1200, 300), (200, 30, 30)).save(logo, "PNG")
            branding.set_logo(org, logo.getvalue())
            logo_size = (org.logo_width, org.logo_height)

            def composed(subject, message):
                org.email_subject, org.email_message = subject, message
                # The brand only with the issuer's template: ours has none.
                org.logo_width, org.logo_height = logo_size if subject else (None, None)
                org.brand_colour = "#aa2255" if subject else None
                start = time.perf_counter()
                for queued in messages[:COUNT // ROUNDS]:
                    built = compose(queued).as_bytes()
                sizes[subject is None] = len(built)
                return time.perf_counter() - start

            composed(None, None)  # warm
            ours = custom = 0
            for _ in range(ROUNDS):
                ours += composed(None, None)
                custom += composed("{organization_name}: {credential_name}", TEMPLATE)
    per = COUNT // ROUNDS * ROUNDS
    print(f"compose: {per} delivery emails, {ROUNDS} rounds")
    for label, seconds, size in (("our words", ours, sizes[True]),
                                 ("issuer's template", custom, sizes[False])):
        print(f"  {label:18}{seconds:7.3f} s {per / seconds:8.0f} emails/s "
              f"{seconds / per * 1e6:6.0f} µs each, {size:,} bytes")
    print(f"  template / ours = {custom / ours:.2f} (seconds; target ≤ 1.2)")


if __name__ == "__main__":
    main()
