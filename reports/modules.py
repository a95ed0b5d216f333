"""Imports every report module, so that each registers itself in :mod:`reports.catalogue`."""

# A report module is listed here once it exists; the order does not matter (the catalogue orders the index).
import reports.channels  # noqa: F401
import reports.churn  # noqa: F401
import reports.commission  # noqa: F401
import reports.contribution  # noqa: F401
import reports.experience  # noqa: F401
import reports.funnel  # noqa: F401
import reports.loss_ratio  # noqa: F401
import reports.loyalty  # noqa: F401
import reports.persistency  # noqa: F401
import reports.sales  # noqa: F401
import reports.segments  # noqa: F401
from reports import breakdowns  # noqa: E402,F401
