"""Flask extensions, created unbound and bound to the app in create_app."""

from flask_htmx import HTMX
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
htmx = HTMX()
login_manager = LoginManager()
mail = Mail()
migrate = Migrate()
