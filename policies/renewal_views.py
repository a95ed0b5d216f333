"""Renewal pages: the agents' worklist and the managers' renewal board."""

WEB_BLUEPRINTS: tuple = ()
