"""Flask extensions, created once and bound to the app in :func:`insurecrm.create_app`."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "auth.login"
csrf = CSRFProtect()
#: login attempts (web and API) are limited; storage from INSURECRM_RATELIMIT_STORAGE_URI so that
#: several application hosts share one counter (e.g. ``redis://``)
limiter = Limiter(key_func=get_remote_address, default_limits=[])
