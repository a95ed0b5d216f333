"""Renewals API (``/api/v1/renewals``)."""

API_BLUEPRINTS: tuple = ()
