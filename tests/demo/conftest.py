"""Fixtures of the demo book tests: a small book built inside the test's transaction."""

from __future__ import annotations

from datetime import date
from functools import cache

import pytest

from insurecrm.demo import book as demo_book
from insurecrm.demo import build_demo_book
from insurecrm.passwords import hash_password

#: a fixed day, so that the book (and any failure) is the same on every run
TODAY = date(2026, 6, 15)
SIZE = 120
SEED = 7
PASSWORD = "demo-password"
#: Argon2 is slow by design and the builder hashes once per book: the tests share one hash
_hash_once = cache(hash_password)


@pytest.fixture
def book(session, monkeypatch):
    """Build the demo book of :data:`SIZE` policyholders; returns the rows written per table."""
    monkeypatch.setattr(demo_book, "hash_password", _hash_once)
    return build_demo_book(policyholders=SIZE, seed=SEED, password=PASSWORD, today=TODAY, progress=False)
