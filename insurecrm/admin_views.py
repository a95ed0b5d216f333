"""Admin pages: users, organisation, agents, products, bank partners, branches and referrers."""

WEB_BLUEPRINTS: tuple = ()
