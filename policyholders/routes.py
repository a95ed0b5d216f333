"""API and web routes of this domain."""

import policyholders.permissions  # noqa: F401 - registers the scope rules

API_BLUEPRINTS: tuple = ()
