"""Alembic migrations of InsureCRM (run with ``insurecrm db upgrade``)."""
