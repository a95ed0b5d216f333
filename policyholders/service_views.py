"""Web pages of service requests and complaints: the list with SLA state, assign, resolve."""

WEB_BLUEPRINTS: tuple = ()
