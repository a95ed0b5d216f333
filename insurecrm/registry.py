"""Imports every model module so that ``Base.metadata`` knows the whole schema (migrations, tests)."""

import agents.models  # noqa: F401
import insurecrm.imports.models  # noqa: F401
import insurecrm.models  # noqa: F401
import insurecrm.outbox.models  # noqa: F401
import policies.models  # noqa: F401
import policies.models.approvals  # noqa: F401
import policyholders.merging.models  # noqa: F401
import policyholders.messaging.models  # noqa: F401
import policyholders.models  # noqa: F401
import policyholders.segments.models  # noqa: F401
import reports.models  # noqa: F401
from insurecrm.db import Base

metadata = Base.metadata
