"""Build the delivery email of one queued message (no request needed)."""

from flask import current_app, render_template
from flask_mail import Message


def links(message):
    """Absolute URLs of the recipient's link and the tracking image: tokens, never ids."""
    base = current_app.config["PUBLIC_BASE_URL"]
    return {"link": f"{base}/r/{message.token}", "pixel": f"{base}/t/{message.token}.gif"}


def compose(message):
    """A Flask-Mail message for a queue row, with its stored Message-ID."""
    credential = message.credential
    org = credential.org
    context = {"credential": credential, "org": org, **links(message)}
    mail = Message(
        subject=f"Your credential: {credential.group.name}",
        sender=(org.name, current_app.config["MAIL_DEFAULT_SENDER"]),
        recipients=[(credential.recipient_name, message.to_address)],
        body=render_template("email/credential.txt", **context),
        html=render_template("email/credential.html", **context),
    )
    mail.msgId = message.message_id  # kept by every retry of this message
    return mail
