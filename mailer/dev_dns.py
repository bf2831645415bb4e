"""A real, tiny authoritative DNS server over UDP on loopback, answering TXT queries from a
dict that each test programs (dnspython's message API does the wire format)."""

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsServer:
    """records: {name: [TXT texts]}; a name absent is NXDOMAIN, a name with [] has no TXT
    record; a name in silent gets no answer at all (the client times out)."""

    def __init__(self):
        self.records = {}
        self.silent = set()
        self.queries = []  # (name, type) of each query received, in order
        self.stopping = False
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
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
        self.queries.append((name, dns.rdatatype.to_text(question.rdtype)))
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT and self.records[name]:
            texts = ['"{}"'.format(text.replace('"', '\\"')) for text in self.records[name]]
            response.answer.append(dns.rrset.from_text(question.name, 300, "IN", "TXT", *texts))
        return response
