"""Bounces that come back later: reports mailed to the bounce address (read over IMAP or
from files) and provider webhooks, applied once to the messages they are about."""
