"""Flask extensions, created unbound and bound to the app in create_app."""

import threading
import time
import weakref

from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from limits.storage import MemoryStorage


class SweptMemoryStorage(MemoryStorage):
    """limits' memory:// storage, its expired counters dropped by one thread for its life.

    limits starts a threading.Timer 10 ms after a hit whenever the last one has ended: under
    load a new thread every few requests (each tracking image waited for one to start), and
    two requests can race to start the same one (limits PR 352). Reads ignore expired
    counters anyway, so the sweep only frees memory, and once a second is enough."""

    STORAGE_SCHEME = ["memory"]  # memory:// is this class from now on: limits' registry
    SWEEP_SECONDS = 1.0

    def __init__(self, uri=None, **options):
        super().__init__(uri, **options)
        # The library starts a new timer only when this one is not alive: it always is.
        self.timer = threading.Thread(target=_sweep, args=(weakref.ref(self),),
                                      name="rate limit sweep", daemon=True)
        self.timer.start()


def _sweep(storage_ref):
    """Drop expired counters now and then, until the storage is gone (an app's test)."""
    while (storage := storage_ref()) is not None:
        storage._MemoryStorage__expire_events()
        del storage  # hold no reference while asleep
        time.sleep(SweptMemoryStorage.SWEEP_SECONDS)


csrf = CSRFProtect()
htmx = HTMX()
# Limits are kept in RATELIMIT_STORAGE_URI: memory for one process, redis:// for several.
limiter = Limiter(key_func=get_remote_address)
login_manager = LoginManager()
mail = Mail()
migrate = Migrate()
