"""One-click unsubscribe from reminders (RFC 8058): the POST a mail program sends, and a
page with a button for a person who opens the link (DESIGN.md, "Deliverability").

The link authenticates itself (a signed id): no cookie, no CSRF token, no login. A GET only
shows the page, since link scanners follow every link in an email.
"""

from flask import Blueprint, current_app, render_template, request

import languages
from extensions import limiter
from headers import no_store
from lifecycle import unsubscribes

bp = Blueprint("unsubscribe", __name__)
limiter.shared_limit(lambda: current_app.config["PUBLIC_RATE_LIMIT"], scope="public")(bp)


def _page(token, message, done=False):
    """The page in the recipient's language (their group's), or a 404 in the visitor's for
    a link that is not ours."""
    if message is None:
        languages.use(languages.visitors())
        return render_template("unsubscribe/page.html", credential=None), 404
    credential = message.credential
    languages.use(credential.group.language)
    return render_template("unsubscribe/page.html", token=token, credential=credential,
                           done=done)


@bp.get("/u/<token>")
@no_store
def page(token):
    """What the link does, with a button that does it."""
    return _page(token, unsubscribes.find(token))


@bp.post("/u/<token>")
@no_store
def unsubscribe(token):
    """Unsubscribe the email's recipient from the organization's reminders; a second time
    changes nothing and answers the same."""
    message = unsubscribes.find(token)  # a stranger's guess takes no write lock
    if message is not None:
        # RFC 8058: a mail program posts List-Unsubscribe=One-Click; our page's form says so.
        via = "page" if request.form.get("from") == "page" else "mail_program"
        unsubscribes.unsubscribe(message, via)
    return _page(token, message, done=True)
