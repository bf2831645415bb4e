"""The development outbox: mail the embedded catcher caught, as a recipient would see it."""

import mailbox
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required

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


@bp.get("/<key>")
def show(key):
    """One caught mail: its HTML part in a sandboxed frame (images load, scripts do not)."""
    message = next((found for found_key, found in _caught() if found_key == key), None)
    if message is None:
        abort(404)
    parts = {part.get_content_type(): part for part in message.walk()}
    html = parts.get("text/html")
    text = parts.get("text/plain")
    return render_template(
        "outbox/show.html", mail=_summary(key, message),
        html=html.get_payload(decode=True).decode(html.get_content_charset() or "utf-8",
                                                  "replace") if html else None,
        text=text.get_payload(decode=True).decode(text.get_content_charset() or "utf-8",
                                                  "replace") if text else None)
