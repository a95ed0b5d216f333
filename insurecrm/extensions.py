"""Flask extensions, created once and bound to the app in :func:`insurecrm.create_app`."""

from functools import partial

import flask_limiter
from flask import request
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter, without its three hooks on every request when nothing needs them.

    Flask-Limiter checks limits before every request, adds rate-limit headers after it and resets its state at
    teardown, for the limits that cover many views: default, application-wide and meta limits, the in-memory
    fallback, the rate-limit headers, a limit that counts after the response (``deduct_when``) or one on a whole
    blueprint. This application sets none of them: its only limits decorate the login views (web and API), and a
    decorated view checks its own limits when it runs (in the hook before it, Flask-Limiter finds nothing to count
    for such a view). So the hooks are left out unless the configuration asks for one of those, and a request to any
    other page or API endpoint pays nothing for the limiter (a fifth of the framework's time on a short API answer).
    tests/test_request_overhead.py fails if a limit that needs the hooks appears.
    """

    def init_app(self, app) -> None:
        if app.config.get("RATELIMIT_ENABLED", self.enabled):
            # Flask-Limiter registers its hooks only for a limiter that is not yet among the app's limiters
            app.extensions.setdefault("limiter", set()).add(self)
        super().init_app(app)
        if self.enabled and self.needs_request_hooks():
            app.before_request(self._check_request_limit)
            app.after_request(partial(flask_limiter.Limiter._Limiter__inject_headers, self))
            app.teardown_request(self._Limiter__release_context)

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        # A request the filters exempt from every limit (a GET of a login page) has nothing to count, yet
        # Flask-Limiter would still look its limits up and record that none applied. Only meta limits count then;
        # without them the check is skipped whole, which leaves the request's limiter state as it was: empty.
        if not self._meta_limits and any(exempt() for exempt in self._request_filters):
            return
        super()._check_request_limit(callable_name, in_middleware)

    def needs_request_hooks(self) -> bool:
        """Whether a limit or setting of this limiter works through the request hooks, not in a decorated view."""
        manager = self.limit_manager
        decorated = [limit for limits in manager._decorated_limits.values() for limit in limits]
        return bool(manager._default_limits or manager._application_limits or manager._blueprint_limits
                    or self._meta_limits or self._in_memory_fallback_enabled or self._headers_enabled
                    or any(limit.deduct_when or limit.meta_limits for limit in decorated))


login_manager = LoginManager()
login_manager.login_view = "auth.login"
csrf = CSRFProtect()
#: login attempts (web and API) are limited per client address; counted where INSURECRM_RATELIMIT_STORAGE_URI says:
#: the application's database by default (``database://``, insurecrm.ratelimit), so that every process and host
#: shares one counter
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@limiter.request_filter
def _not_a_post() -> bool:
    """Every limit the application sets is on a POST (the logins): a GET of a login page skips the limiter's lookup
    of the view's limits."""
    return request.method != "POST"
