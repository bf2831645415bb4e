"""The one issuing service: new credentials, their delivery emails, and what changes them.

Every way of issuing (the form, the API, its bulk call, a spreadsheet import) and every
change to a credential's email (publish, schedule, a new address, a resend, a reminder)
or to the credential (a new name, revocation, expiry) is a function here that works on a
set of rows, one row being a set of one. Each writes in the caller's transaction and
records the events it makes (timeline), which derive the statuses they change; the
caller commits with jobs.commit, which wakes the mail job when mail was queued.
"""

from issuing.changes import change_address, publish, resend, schedule
from issuing.corrections import (
    delete_drafts,
    group_named,
    move_drafts,
    reinstate,
    rename,
    revoke,
    set_expiry,
)
from issuing.emails import queue_system_email
from issuing.new import NewCredential, issue, issue_new

__all__ = ["NewCredential", "change_address", "delete_drafts", "group_named", "issue",
           "issue_new", "move_drafts", "publish", "queue_system_email", "reinstate", "rename",
           "resend", "revoke", "schedule", "set_expiry"]
