"""The bounce mailbox: reports read over IMAP (BOUNCE_IMAP_*) or from files, applied once.

A report that was read and applied (or applied before) is moved to the folder Processed;
mail that is not a report, or that names no message of ours, to Unrecognised. Nothing is
deleted. Each report is applied (and its receipt noted) in a transaction that commits
before it is moved, so a worker that dies in between leaves it in the inbox, and the next
poll finds its receipt and only moves it.
"""

import imaplib
import mailbox
import re
import ssl
from collections import Counter
from pathlib import Path

from flask import current_app

from bounces.apply import apply_all
from bounces.reports import read_report
from models import IntakeStatus, only_one, write_transaction

PROCESSED, UNRECOGNISED = "Processed", "Unrecognised"
FOLDER_OF = {"applied": PROCESSED, "duplicate": PROCESSED, "nothing": PROCESSED,
             "unknown": UNRECOGNISED, "auto_reply": UNRECOGNISED, "not_report": UNRECOGNISED}
# Mails applied in one transaction at a time: from files, and over IMAP (where each batch
# is also fetched, then moved, before the next).
FILE_BATCH, IMAP_BATCH = 500, 100


class MailboxError(Exception):
    """The bounce mailbox could not be read; the message says why."""


def receive(raw, source):
    """Read one mail that came back and apply it: its outcome (a FOLDER_OF key)."""
    return receive_many([raw], source)[0]


def receive_many(raws, source):
    """Read mails that came back and apply them in one transaction: their outcomes."""
    reports = [read_report(raw) for raw in raws]
    outcomes = apply_all(source, [
        [(f"{report.key}|{finding.recipient}", finding) for finding in report.findings]
        for report in reports if report.kind == "report"])
    answers = iter(outcomes)
    return [next(answers) if report.kind == "report" else report.kind for report in reports]


# Files --------------------------------------------------------------------------------


def mails_in(path):
    """The raw bytes of each mail at path: a Maildir, an mbox file, or one .eml file."""
    path = Path(path)
    if path.is_dir():
        box = mailbox.Maildir(path, create=False)
        for key in box.iterkeys():
            yield box.get_bytes(key)
        return
    with open(path, "rb") as file:
        head = file.read(5)
    if head == b"From ":  # an mbox starts with its first "From " line
        box = mailbox.mbox(path, create=False)
        try:
            for key in box.iterkeys():
                yield box.get_bytes(key)
        finally:
            box.close()
        return
    yield path.read_bytes()


def import_files(paths):
    """Apply every mail in these files and folders; Counter of outcomes."""
    outcomes, batch = Counter(), []
    for path in paths:
        for raw in mails_in(path):
            batch.append(raw)
            if len(batch) == FILE_BATCH:
                outcomes.update(receive_many(batch, "file"))
                batch = []
    outcomes.update(receive_many(batch, "file"))
    return outcomes


# IMAP ---------------------------------------------------------------------------------


def configured():
    """True when a bounce mailbox is set (BOUNCE_IMAP_HOST)."""
    return bool(current_app.config.get("BOUNCE_IMAP_HOST"))


def connect():
    """A logged-in IMAP connection to the bounce mailbox, its folder selected."""
    config = current_app.config
    host, port = config["BOUNCE_IMAP_HOST"], config["BOUNCE_IMAP_PORT"]
    security = config["BOUNCE_IMAP_SECURITY"]
    timeout = config["SMTP_TIMEOUT_SECONDS"]
    if security == "ssl":
        imap = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(),
                                 timeout=timeout)
    else:
        imap = imaplib.IMAP4(host, port, timeout=timeout)
        if security == "starttls":
            imap.starttls(ssl.create_default_context())
    try:
        imap.login(config["BOUNCE_IMAP_USER"], config["BOUNCE_IMAP_PASSWORD"])
        for folder in (PROCESSED, UNRECOGNISED):
            imap.create(_quoted(folder))  # answers NO when it exists: fine
        _ok(imap.select(_quoted(config["BOUNCE_IMAP_FOLDER"])))
    except BaseException:
        imap.shutdown()
        raise
    return imap


def poll(limit=1000):
    """Read the bounce mailbox once, unless another worker is reading it: apply each report,
    move each mail to its folder. Counter of outcomes; the intake's status notes the poll,
    or its error (then raised as MailboxError)."""
    # Two workers moving the same mail would each file a copy of it.
    with only_one("bounce-mailbox") as mine:
        return _poll(limit) if mine else Counter()


def _poll(limit):
    outcomes = Counter()
    try:
        imap = connect()
        try:
            uids = _ok(imap.uid("SEARCH", None, "ALL"))[0].split()[:limit]
            movable = _can_move(imap)
            for start in range(0, len(uids), IMAP_BATCH):
                fetched = list(_fetch(imap, uids[start:start + IMAP_BATCH]))
                # Applied and committed first: a worker that dies before the moves leaves
                # the mail in the inbox, and the next poll finds its receipts.
                answers = receive_many([raw for _, raw in fetched], "mailbox")
                for (uid, _), outcome in zip(fetched, answers, strict=True):
                    _move(imap, uid, FOLDER_OF[outcome], movable)
                    outcomes[outcome] += 1
            if not movable:
                imap.expunge()
        finally:
            _logout(imap)
    except (OSError, imaplib.IMAP4.error) as error:
        reason = f"{type(error).__name__}: {error}"
        with write_transaction() as connection:
            IntakeStatus.note(connection, "mailbox", reason)
        raise MailboxError(reason) from error
    with write_transaction() as connection:
        IntakeStatus.note(connection, "mailbox")
    return outcomes


def _fetch(imap, uids):
    """(uid, raw bytes) of each message, read without marking it seen."""
    data = _ok(imap.uid("FETCH", b",".join(uids), "(UID BODY.PEEK[])"))
    for item in data:
        if isinstance(item, tuple):
            found = re.search(rb"UID (\d+)", item[0])
            if found:
                yield found.group(1), item[1]


def _can_move(imap):
    """True when the server moves messages itself (RFC 6851)."""
    return b"MOVE" in _ok(imap.capability())[0].upper().split()


def _move(imap, uid, folder, movable):
    """Move one message (MOVE, or COPY and a deletion mark expunged at the end of the poll).
    A message another worker moved already is gone: nothing to do."""
    if movable:
        imap.uid("MOVE", uid, _quoted(folder))
        return
    if imap.uid("COPY", uid, _quoted(folder))[0] == "OK":
        imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")


def _quoted(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(answer):
    status, data = answer
    if status != "OK":
        raise imaplib.IMAP4.error(f"the mail server answered {status}: {data}")
    return data


def _logout(imap):
    try:
        imap.logout()
    except (OSError, imaplib.IMAP4.error):
        pass
