"""A tiny authoritative DNS server over UDP on loopback, answering TXT queries from a dict
(dnspython's message API does the wire format): the tests program it, and in development
`flask --app app dev-dns` serves the records of a JSON file, so that a sender domain can be
verified and its DKIM record published without a real DNS host."""

import json
import socket
import threading
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsServer:
    """records: {name: [TXT texts]}; a name absent is NXDOMAIN, a name with [] has no TXT
    record; a name in silent gets no answer at all (the client times out). With a records
    file, its JSON ({name: [texts]}) is read again for each query: edits count at once."""

    def __init__(self, port=0, records_file=None):
        self.records = {}
        self.records_file = records_file
        self.silent = set()
        self.queries = []  # (name, type) of each query received, in order
        self.stopping = False
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", port))
        self.address = "{}:{}".format(*self.socket.getsockname())
        self.thread = threading.Thread(target=self._serve, name="dns", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        # Closing the socket does not wake a thread waiting in recvfrom: a datagram does.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
            waker.sendto(b"", self.socket.getsockname())
        self.thread.join(timeout=5)
        self.socket.close()

    def _serve(self):
        while True:
            wire, client = self.socket.recvfrom(65535)
            if self.stopping:
                return
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue
            answer = self._answer(query)
            if answer is not None:
                self.socket.sendto(answer.to_wire(), client)

    def _answer(self, query):
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        if self.records_file:
            self.records = read_records(self.records_file)
        self.queries.append((name, dns.rdatatype.to_text(question.rdtype)))
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT and self.records[name]:
            # A text longer than a DNS string (255 bytes) goes as several, as DNS hosts do.
            texts = [" ".join('"{}"'.format(text[i:i + 255].replace('"', '\\"'))
                              for i in range(0, max(len(text), 1), 255))
                     for text in self.records[name]]
            response.answer.append(dns.rrset.from_text(question.name, 300, "IN", "TXT", *texts))
        return response


def read_records(path):
    """{name in lower case: [TXT texts]} from a JSON file; none when it is missing or bad."""
    try:
        found = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(name).lower().rstrip("."): [str(t) for t in (texts if isinstance(
        texts, list) else [texts])] for name, texts in found.items()}
