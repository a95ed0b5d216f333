"""Policyholders (保户): the unified record, household relationships, interactions, service requests
and complaints, campaigns."""
