"""InsureCRM: the application shell (factory, configuration, auth, scope, audit, errors, CLI)."""

from __future__ import annotations

import os

from flask import Flask

# marshmallow's refusals worded by the catalogue: installed before any schema makes its fields
from insurecrm import validation_messages  # noqa: F401

__version__ = "0.1.0"


class InsureCRM(Flask):
    """Flask, asking once per function whether it must be wrapped to run synchronously: Flask asks it of every hook
    and view on every request (``inspect.iscoroutinefunction`` each time, a few percent of an API read), and the
    answer for a function never changes."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._synchronous: dict = {}

    def ensure_sync(self, func):
        try:
            return self._synchronous[func]
        except KeyError:
            runnable = self._synchronous[func] = super().ensure_sync(func)
            return runnable
        except TypeError:  # an unhashable callable: asked each time, as Flask does
            return super().ensure_sync(func)


def create_app(overrides: dict | None = None) -> Flask:
    """Build the Flask application. ``overrides`` replace settings read from the environment."""
    # registry loads the models; ratelimit registers the database:// storage of the rate limits
    from insurecrm import audit, contact_links, errors, i18n, labels, navigation, ratelimit, registry, web  # noqa: F401
    from insurecrm.api import Api
    from insurecrm.config import load_config
    from insurecrm.db import db
    from insurecrm.extensions import csrf, limiter, login_manager
    from insurecrm.token_cache import cache as token_cache

    app = InsureCRM(__name__, instance_path=os.environ.get("INSURECRM_INSTANCE_PATH") or None,
                instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path, overrides))

    db.init_app(app)
    token_cache.configure(app.config["API_TOKEN_CACHE_SECONDS"])
    login_manager.init_app(app)
    limiter.init_app(app)  # the login views count their own attempts, after the CSRF check (insurecrm.extensions)
    csrf.init_app(app)
    api = Api(app)
    errors.init_app(app)
    i18n.init_app(app)
    labels.init_app(app)
    contact_links.init_app(app)
    navigation.init_app(app)
    web.init_app(app)

    _register_domains(app, api, csrf)
    import agents.tasks  # noqa: F401 - registers the daily jobs
    import policies.tasks  # noqa: F401
    import policyholders.tasks  # noqa: F401
    import reports.tasks  # noqa: F401
    return app


def _package_modules(package_name: str) -> tuple:
    """The modules of a capability's package (e.g. ``agents.pipeline``), imported: those that declare blueprints
    are registered like the listed ones, and those that declare daily jobs register them on import. A new page or
    job of the package needs no line here."""
    import importlib
    import pkgutil

    package = importlib.import_module(package_name)
    return tuple(importlib.import_module(f"{package_name}.{info.name}")
                 for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name))


def _register_domains(app: Flask, api, csrf) -> None:
    import agents.departure_views
    import agents.routes
    import agents.task_routes
    import agents.task_views
    import agents.views
    import insurecrm.audit_views  # noqa: F401 - adds /admin/audit to the admin blueprint, before it registers
    import insurecrm.views
    import insurecrm.web
    import policies.renewal_routes
    import policies.renewal_views
    import policies.routes
    import policies.views
    import policyholders.intake_views
    import policyholders.routes
    import policyholders.service_views
    import policyholders.views
    import reports.loyalty_views
    import reports.report_views
    import reports.routes
    import reports.views
    from insurecrm import admin_views, auth_routes, help_views, ops_views, user_routes

    app.register_blueprint(insurecrm.views.bp)
    app.register_blueprint(insurecrm.web.bp)
    api_modules = (auth_routes, user_routes, agents.routes, agents.task_routes, policies.routes,
                   policies.renewal_routes, policyholders.routes, reports.routes)
    web_modules = (admin_views, ops_views, help_views, agents.views, agents.task_views, agents.departure_views,
                   policies.views, policies.renewal_views, policyholders.views, policyholders.intake_views,
                   policyholders.service_views, reports.views, reports.report_views, reports.loyalty_views)
    packaged = tuple(module for package in ("agents.pipeline", "policyholders.merging", "policyholders.segments",
                                            "policyholders.messaging", "policyholders.campaigns", "insurecrm.imports")
                     for module in _package_modules(package))
    for module in api_modules + web_modules + packaged:
        for blp in getattr(module, "API_BLUEPRINTS", ()):
            csrf.exempt(blp)  # bearer tokens only, no cookies: CSRF cannot apply
            api.register_blueprint(blp)
        for bp in getattr(module, "WEB_BLUEPRINTS", ()):
            app.register_blueprint(bp)
