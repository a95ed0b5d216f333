"""Reports API."""

from __future__ import annotations

from insurecrm import clock
from insurecrm.api import api_blueprint, current_user
from insurecrm.auth import INTERNAL_ROLES, require_roles
from reports import services
from reports.schemas import BookSummary, SummaryArgs

reports_blp = api_blueprint("reports_api", __name__, description="Reports, aggregated in SQL within your scope.")
API_BLUEPRINTS = (reports_blp,)


@reports_blp.route("/reports/book-summary")
@require_roles(*INTERNAL_ROLES)
@reports_blp.arguments(SummaryArgs, location="query")
@reports_blp.response(200, BookSummary)
def book_summary(args):
    """Policyholders by status; in-force policies and annualised premium by channel."""
    return services.book_summary(current_user(), args.get("as_of") or clock.today())
