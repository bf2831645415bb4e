"""A real SMTP server (aiosmtpd) on loopback whose answers each test programs."""

import asyncio
import re
import socket
import threading
import time

from aiosmtpd.controller import Controller


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Sink:
    """Accepts mail unless told otherwise; remembers each delivery's Message-ID."""

    def __init__(self, port=None, smtputf8=True):
        self.port = port or free_port()
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (international addresses)
        self.received = []  # (recipient, Message-ID, raw bytes) in arrival order
        self.envelope_senders = []  # MAIL FROM of each delivery, in the same order
        self.rcpt_replies = {}  # address -> replies to give at RCPT, one per attempt
        self.delay = 0.0  # seconds to think before answering DATA
        self.drop_at = set()  # delivery numbers (1-based) at which to hang up instead
        self.connections = 0
        self.throttle = []  # replies to give instead of accepting the next deliveries
        self.hang_up_after_throttle = False  # close the connection after each (Gmail does)
        self.arrivals = []  # time.monotonic() of each delivery and of each throttle reply
        self.busy = 0  # deliveries being handed over now, and the most at once
        self.most_at_once = 0
        self.lock = threading.Lock()
        self.controller = None

    # Programming -----------------------------------------------------------------
    def answer(self, address, *replies):
        """Give these RCPT replies to the next attempts for address, then accept."""
        self.rcpt_replies[address.lower()] = list(replies)

    def start(self):
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port,
                                     enable_SMTPUTF8=self.smtputf8)
        self.controller.start()
        return self

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def message_ids(self):
        with self.lock:
            return [message_id for _, message_id, _ in self.received]

    def wait_for(self, count, timeout=30):
        """Block until count messages arrived (or fail after timeout seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} of {count} messages arrived")

    # aiosmtpd handler hooks -----------------------------------------------------
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            replies = self.rcpt_replies.get(address.lower())
            reply = replies.pop(0) if replies else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.busy += 1
            self.most_at_once = max(self.most_at_once, self.busy)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self._deliver(server, envelope)
        finally:
            with self.lock:
                self.busy -= 1

    def _deliver(self, server, envelope):
        with self.lock:
            self.arrivals.append(time.monotonic())
            if self.throttle:
                if self.hang_up_after_throttle:  # once the reply is on its way
                    asyncio.get_running_loop().call_soon(server.transport.close)
                return self.throttle.pop(0)
            number = len(self.received) + 1
            if number in self.drop_at:
                self.drop_at.discard(number)
                server.transport.close()
                return "421 4.4.2 connection dropped"
            found = re.search(rb"^Message-ID:\s*(<[^>]+>)", envelope.content, re.M | re.I)
            self.received.append((envelope.rcpt_tos[0], found and found.group(1).decode(),
                                  envelope.content))
            self.envelope_senders.append(envelope.mail_from)
        return f"250 2.0.0 Ok: queued as Q{number}"
