"""Work a transaction gave the background jobs, noted as it is written so that the commit
can start those jobs at once (jobs.commit) instead of at their next tick."""

from flask import g

MAIL, WEBHOOKS, IMPORTS = "mail", "webhooks", "imports"  # the jobs (jobs.py)


def note(job):
    """The current transaction gives this job something to do."""
    g.setdefault("work_given", set()).add(job)


def taken():
    """The jobs given work since the last call, forgotten once returned."""
    return g.pop("work_given", set())
