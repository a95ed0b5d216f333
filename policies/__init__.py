"""Policies: products, policies and their status machine, premium schedules, payments, claims,
commissions and renewal cases."""
