"""API and web routes of this domain."""

import agents.permissions  # noqa: F401 - registers the scope rules

API_BLUEPRINTS: tuple = ()
