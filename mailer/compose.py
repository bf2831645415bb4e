"""Build the delivery email of one queued message (no request needed)."""

from email import policy

from flask import current_app
from flask_mail import Message

# The policy Flask-Mail's messages are built with, ending lines in CRLF for SMTP. It writes
# the same bytes rules as policy.SMTP (which Flask-Mail uses) at half the cost, because it
# does not re-parse every header while writing; on a local server that doubles throughput.
SMTP_COMPAT32 = policy.compat32.clone(linesep="\r\n")


class DeliveryMail(Message):
    """A Flask-Mail message serialized with SMTP_COMPAT32."""

    def as_bytes(self):
        return self._message().as_bytes(policy=SMTP_COMPAT32)


def _render(name, context):
    # Straight from the Jinja environment: an email needs no request context processors.
    return current_app.jinja_env.get_template(name).render(context)


def links(message):
    """Absolute URLs of the recipient's link and the tracking image: tokens, never ids."""
    base = current_app.config["PUBLIC_BASE_URL"]
    return {"link": f"{base}/r/{message.token}", "pixel": f"{base}/t/{message.token}.gif"}


def compose(message):
    """A Flask-Mail message for a queue row, with its stored Message-ID."""
    credential = message.credential
    org = credential.org
    context = {"credential": credential, "org": org, **links(message)}
    mail = DeliveryMail(
        subject=("Reminder: your credential: " if message.is_reminder else "Your credential: ")
        + credential.group.name,
        sender=org.sender(current_app.config["MAIL_DEFAULT_SENDER"]),
        reply_to=org.reply_to,
        recipients=[(credential.recipient_name, message.to_address)],
        body=_render("email/credential.txt", context),
        html=_render("email/credential.html", context),
    )
    mail.msgId = message.message_id  # kept by every retry of this message
    return mail
