"""SMTP transport: one connection to the mail server and one message's conversation on it
(MAIL, RCPT, DATA), each answer turned into an Outcome by the one classifier."""

import dataclasses
import smtplib

from flask import current_app
from flask_mail import Connection

from mailer.replies import Outcome, classify
from mailer.verp import envelope_sender


class SmtpLink:
    """One SMTP connection, opened at the first message and again after one was lost;
    once the server could not be reached, the rest of the run gets that outcome."""

    def __init__(self):
        self.connection = None
        self.unreachable = None  # the Outcome of a failed connect: the rest of the batch

    def hand_over(self, row_id, to_address, mail):
        if self.unreachable:
            return self.unreachable
        if self.connection is None:
            try:
                self.connection = _connect()
            except (OSError, smtplib.SMTPException) as error:
                self.unreachable = _failure(error, "connect")
                return self.unreachable
        outcome = _deliver(self.connection.host, mail, to_address, envelope_sender(row_id))
        if outcome.connection_lost:
            self.close()  # reconnect for the next message
        return outcome

    def close(self):
        if self.connection is not None:
            _close(self.connection)
            self.connection = None


class TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout, so a silent server cannot stall us."""

    def configure_host(self):
        timeout = current_app.config["SMTP_TIMEOUT_SECONDS"]
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(self.mail.server, self.mail.port, timeout=timeout)
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def _connect():
    connection = TimedConnection(current_app.extensions["mail"])
    connection.__enter__()
    connection.host.ehlo_or_helo_if_needed()
    return connection


def _close(connection):
    try:
        connection.host.quit()
    except (OSError, smtplib.SMTPException):
        connection.host.close()


def _failure(error, stage):
    """The Outcome of an exception raised while talking to the server."""
    if isinstance(error, smtplib.SMTPResponseException):
        return classify(error.smtp_code, error.smtp_error, stage)
    return classify(None, f"connection lost: {error or type(error).__name__}", stage)


def _envelope_address(address):
    """The address for RCPT TO: an international domain in its ASCII (IDNA) form."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def _deliver(host, mail, recipient, sender):
    """MAIL, RCPT and DATA for one message; the Outcome of the step that decided it."""
    if mail.has_bad_headers():
        return Outcome("bounce", "not sent", "bad_header")
    stage = "sender"
    try:
        recipient = _envelope_address(recipient)
        options = []
        if not recipient.isascii():
            if not host.has_extn("smtputf8"):
                return Outcome("bounce", "not sent: the server does not offer SMTPUTF8",
                               "no_smtputf8")
            options = ["SMTPUTF8"]
        # The envelope sender is where bounce reports go (mailer.verp).
        code, text = host.mail(_envelope_address(sender), options)
        if code == 250:
            stage = "rcpt"
            code, text = host.rcpt(recipient)
        if code in (250, 251):
            stage = "data"
            code, text = host.data(mail.as_bytes())
        outcome = classify(code, text, stage)
    except (OSError, smtplib.SMTPException) as error:
        return _failure(error, stage)
    except Exception as error:  # one odd message must not stop the batch
        current_app.logger.exception("could not send %s", mail.msgId)
        outcome = Outcome("retry", f"not sent: {error}", "send_failed")
    if outcome.action != "sent" and not outcome.connection_lost:
        try:
            host.rset()
        except (OSError, smtplib.SMTPException):  # the server hung up after its reply
            outcome = dataclasses.replace(outcome, connection_lost=True)
    return outcome
