"""Mail from the outside world as real servers write it, shared by the tests and the
benchmarks: what comes back to a bounce address (samples.reports, samples.other_mail)."""

from samples.other_mail import challenge, exchange, exim, human_reply, out_of_office, qmail, yahoo
from samples.reports import complaint, delayed, delivered, gmail, microsoft365, postfix

__all__ = ["challenge", "complaint", "delayed", "delivered", "exchange", "exim", "gmail",
           "human_reply", "microsoft365", "out_of_office", "postfix", "qmail", "yahoo"]
