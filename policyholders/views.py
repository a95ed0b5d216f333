"""Web pages of this domain (server-rendered; the rules stay in services.py and permissions.py)."""

WEB_BLUEPRINTS: tuple = ()
