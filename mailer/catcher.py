"""The development mail catcher: an aiosmtpd server keeping mail in a Maildir for /outbox."""

import mailbox
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class Catcher(Mailbox):
    """Keeps every message; refuses recipients at *.invalid, as a real server would."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rpartition("@")[2].lower().rstrip(".")
        if domain == "invalid" or domain.endswith(".invalid"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def outbox_path(app):
    return Path(app.instance_path) / "outbox"


def start(app, host="127.0.0.1", port=None):
    """Serve the catcher in a background thread; return its controller."""
    path = outbox_path(app)
    mailbox.Maildir(path, create=True)
    controller = Controller(Catcher(path), hostname=host, port=port or app.config["MAIL_PORT"])
    controller.start()
    return controller
