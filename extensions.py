"""Flask extensions, created unbound and bound to the app in create_app."""

from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
htmx = HTMX()
# Limits are kept in RATELIMIT_STORAGE_URI: memory for one process, redis:// for several.
limiter = Limiter(key_func=get_remote_address)
login_manager = LoginManager()
mail = Mail()
migrate = Migrate()
