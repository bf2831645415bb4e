"""One POST to a webhook URL: to the addresses that were checked, no redirects, a short
timeout, the answer read only as far as we keep it."""

import http.client
import socket
import ssl

READ_AT_MOST = 4096  # bytes of the answer read; the log keeps less


def _connect(addresses, port, timeout):
    """A socket to the first of the checked addresses that answers."""
    error = OSError("no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as failed:
            error = failed
    raise error


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to checked addresses only; the Host header still names the host."""

    def __init__(self, host, port, addresses, timeout):
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self):
        self.sock = _connect(self.addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """Connects to checked addresses only; SNI, the certificate check and Host name the
    host."""

    def __init__(self, host, port, addresses, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.addresses = addresses

    def connect(self):
        sock = _connect(self.addresses, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target, headers, body, timeout):
    """POST body to target (from outbound.urls.target); return (status, answer text).
    Network errors raise OSError (timeouts included) or http.client.HTTPException."""
    scheme, host, port, addresses, path = target
    kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    connection = kind(host, port, addresses, timeout)
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
