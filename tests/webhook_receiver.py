"""A real HTTP server on loopback that takes webhook POSTs and answers as programmed."""

import http.server
import threading
import time


class Receiver:
    """Answers each POST with the next of `answers` (status, extra headers), then 200;
    keeps every request's path, headers and body."""

    def __init__(self):
        self.answers, self.requests = [], []
        self.arrived = threading.Condition()
        self.release = threading.Event()  # an answer ("hold", {}) waits for it
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver.arrived:
                    receiver.requests.append((self.path, dict(self.headers), body))
                    status, headers = (receiver.answers.pop(0) if receiver.answers
                                       else (200, {}))
                    receiver.arrived.notify_all()
                if status == "hold":  # a receiver that does not answer in time
                    receiver.release.wait(30)
                    status = 200
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                answer = f"answer {status}".encode()
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count, timeout=30):
        """Wait until count requests arrived (with a deadline); return them."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.requests)} of {count} requests arrived"
                self.arrived.wait(left)
            return list(self.requests)
