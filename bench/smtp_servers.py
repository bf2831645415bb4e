"""SMTP servers for bench/mail_queue.py, each run in a process of its own:

  sink     aiosmtpd's Sink: accepts and drops each message (the wire alone);
  relay    takes 20 ms a message before it answers, as a relay in another data centre;
  parsing  parses each message as a real MTA does before it answers (headers, every part:
           about 1 ms of work a message).

Run: python bench/smtp_servers.py KIND PORT
"""

import asyncio
import sys
import time
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class Relay:
    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.02)
        return "250 2.0.0 Ok: queued"


class Parsing:
    async def handle_DATA(self, server, session, envelope):
        parse(envelope.content)
        return "250 2.0.0 Ok: queued"


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued"


def parse(data):
    """What an MTA does with a message before it answers: read the headers, walk the parts."""
    message = message_from_bytes(data, policy=policy.default)
    for name in ("From", "To", "Subject", "Message-ID", "Date"):
        message.get(name)
    return [part.get_content_type() for part in message.walk()]


def main():
    kind, port = sys.argv[1], int(sys.argv[2])
    handler = {"relay": Relay, "parsing": Parsing, "sink": Sink}[kind]()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    main()
