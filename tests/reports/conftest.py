"""Fixtures of the reports' tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from insurecrm import clock

#: noon in Shanghai on 2026-12-06: the default period of the reports is then 2025-12-01 to 2026-11-30
DECEMBER_6 = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


@pytest.fixture
def december(app):
    """The application's clock on :data:`DECEMBER_6` for the test (``pytestmark = usefixtures("december")``)."""
    with clock.frozen(DECEMBER_6):
        yield
