"""The development outbox: mail the embedded catcher caught, as a recipient would see it."""

import mailbox
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, render_template
from flask_login import current_user, login_required

from headers import no_store
from mailer.catcher import outbox_path
from models import EmailMessage, db

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
SHOWN = 200


@bp.before_request
@login_required
def development_only():
    """Issuers only, and only while the development catcher stands in for a mail server."""
    if not current_app.config.get("DEV_MAIL_CATCHER"):
        abort(404)


def _caught():
    """The organization's caught mail, newest first: [(key, message)]."""
    box = mailbox.Maildir(outbox_path(current_app), create=True)
    items = sorted(box.iteritems(), key=lambda item: item[1].get_date(), reverse=True)[:SHOWN]
    ids = {str(message.get("Message-ID", "")).strip() for _, message in items}
    ours = set(db.session.scalars(sa.select(EmailMessage.message_id).where(
        EmailMessage.org_id == current_user.org_id, EmailMessage.message_id.in_(ids))))
    return [(key, message) for key, message in items
            if str(message.get("Message-ID", "")).strip() in ours]


def _header(message, name):
    """A header as text, with encoded words (=?utf-8?q?…?=) decoded."""
    return str(make_header(decode_header(message.get(name, ""))))


def _summary(key, message):
    date = message.get("Date")
    return {"key": key, "subject": _header(message, "Subject"), "to": _header(message, "To"),
            "from": _header(message, "From"), "date": parsedate_to_datetime(date) if date else None}


@bp.get("/")
def index():
    return render_template("outbox/index.html",
                           mails=[_summary(key, message) for key, message in _caught()])


# The mail as a mail client shows it: its inline styles, its images from anywhere (the
# tracking image among them), no scripts, inside the outbox page only, sandboxed as the
# frame is, so a look at it is an open as a recipient's would be.
MAIL_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src * data:; "
               "frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox")


def _caught_or_404(key):
    message = next((found for found_key, found in _caught() if found_key == key), None)
    if message is None:
        abort(404)
    return message


def _part(message, content_type):
    """The decoded text of the message's first part of that type, or None."""
    part = next((p for p in message.walk() if p.get_content_type() == content_type), None)
    if part is None:
        return None
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8",
                                                "replace")


@bp.get("/<key>")
def show(key):
    """One caught mail: its headers (all of them below, its DKIM signature among them), its
    HTML part in a sandboxed frame, its text part."""
    message = _caught_or_404(key)
    return render_template("outbox/show.html", mail=_summary(key, message),
                           headers=[(name, str(value)) for name, value in message.items()],
                           has_html=_part(message, "text/html") is not None,
                           text=_part(message, "text/plain"))


@bp.get("/<key>/body")
@no_store
def body(key):
    """The HTML part for the frame, under a policy of its own (MAIL_POLICY): the app's
    forbids the inline styles every mail has."""
    html = _part(_caught_or_404(key), "text/html")
    if html is None:
        abort(404)
    return Response('<base target="_blank">' + html, mimetype="text/html",
                    headers={"Content-Security-Policy": MAIL_POLICY})
