"""What strangers' requests note in memory, written in batches by a background thread.

A tracking image or a public page must answer at once, never waiting for (or taking) the
database's write lock, and such requests come in bursts; so a request only notes what
happened, and every FLUSH_SECONDS a thread writes all that was noted in one transaction.
A crash loses at most that second; a normal exit writes it all. A second rather than less:
each write costs a few milliseconds whatever its size, which batches of 20 to 80 opens (a
gunicorn worker's fifth of a second at full speed) paid twice over per open.
"""

import atexit
import threading

from models import write_transaction


class Batch:
    """Items noted by requests, written together by write(connection, items)."""

    FLUSH_SECONDS = 1.0
    MAX_PENDING = 1000  # past this a request wakes the writer early

    def __init__(self, app, name, write):
        self.app, self.name, self.write = app, name, write
        self.lock = threading.Lock()  # guards pending
        # One write at a time: the exit's flush waits for the thread's, which would die
        # with the process, and the items it holds with it (seen under gunicorn).
        self.writing = threading.Lock()
        self.pending = []
        self.wakeup = threading.Event()
        threading.Thread(target=self._run, name=name, daemon=True).start()
        atexit.register(self.flush)

    def note(self, item):
        """Remember one item, to be written shortly."""
        with self.lock:
            self.pending.append(item)
            if len(self.pending) >= self.MAX_PENDING:
                self.wakeup.set()

    def flush(self):
        """Write every noted item now, after a write in progress; if that fails, keep them
        for the next try."""
        with self.writing:
            with self.lock:
                items, self.pending = self.pending, []
            if not items:
                return
            try:
                with self.app.app_context(), write_transaction() as connection:
                    self.write(connection, items)
            except BaseException:
                with self.lock:
                    self.pending[:0] = items  # before those noted meanwhile: oldest first
                raise

    def _run(self):
        while True:
            self.wakeup.wait(self.FLUSH_SECONDS)
            self.wakeup.clear()
            try:
                self.flush()
            except Exception:  # keep the thread; the log says what went wrong
                self.app.logger.exception("could not write the noted %s", self.name)


_starting = threading.Lock()


def batch(app, name, write):
    """This process's Batch of that name for the app, started on first use."""
    found = app.extensions.get(name)
    if found is not None:  # every request asks: no lock once it exists
        return found
    with _starting:
        if name not in app.extensions:
            app.extensions[name] = Batch(app, name, write)
        return app.extensions[name]
