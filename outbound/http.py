"""One POST to a webhook URL: to the address that was checked, no redirects, a short
timeout, the answer read only as far as we keep it."""

import http.client
import socket
import ssl

READ_AT_MOST = 4096  # bytes of the answer read; the log keeps less


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to a given address; the Host header still names the host."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """Connects to a given address; SNI, the certificate check and Host name the host."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target, headers, body, timeout):
    """POST body to target (from outbound.urls.target); return (status, answer text).
    Network errors raise OSError (timeouts included) or http.client.HTTPException."""
    scheme, host, port, address, path = target
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    connection = kind(host, port, address, timeout)
    try:
        connection.request("POST", path, body=body.encode(), headers={
            **headers, "Content-Type": "application/json",
            "User-Agent": "credential-mail-tracker-webhooks"})
        response = connection.getresponse()
        answer = response.read(READ_AT_MOST).decode("utf-8", "replace")
        if 300 <= response.status < 400:  # never followed: the address was not checked
            answer = f"redirect to {response.getheader('Location', '?')} not followed. {answer}"
        return response.status, answer
    finally:
        connection.close()
