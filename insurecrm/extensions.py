"""Flask extensions, created once and bound to the app in :func:`insurecrm.create_app`."""

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "auth.login"
csrf = CSRFProtect()
#: login attempts (web and API) are limited per client address; counted where INSURECRM_RATELIMIT_STORAGE_URI says:
#: the application's database by default (``database://``, insurecrm.ratelimit), so that every process and host
#: shares one counter
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@limiter.request_filter
def _not_a_post() -> bool:
    """Every limit the application sets is on a POST (the logins): other requests skip the limiter's lookup of
    the endpoint's limits, which costs a fifth of a millisecond on every API read."""
    return request.method != "POST"
