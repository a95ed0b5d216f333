"""API and web routes of this domain."""


API_BLUEPRINTS: tuple = ()
