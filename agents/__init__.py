"""Agents: the organisation tree, agents, the bancassurance channel and the sales pipeline."""
