"""The help page (/help): what each figure on the pages means and how it is computed, in the reader's language.

It says for users what docs/metrics.md says for developers and actuaries; each figure on a page links to its
entry (``help_link("renewal-rate")`` → ``/help#renewal-rate``). Every internal role may read it. The reports of
:mod:`reports.catalogue` each have an entry ``report-<name>`` made of the help they registered with.
"""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from insurecrm.web import INTERNAL, page_roles

bp = Blueprint("help", __name__)
WEB_BLUEPRINTS = (bp,)
#: the entries of the help page, by anchor; a link to any other anchor is a mistake (tests/test_help.py)
ANCHORS = (
    "in-force", "annualised-premium", "new-business", "lapses", "service-levels", "premium-by-agent",
    "renewal-case", "days-left", "renewal-rate", "renewal-rate-premium", "renewals-premium", "left-out",
    "lost", "still-open", "by-month", "lost-reasons", "due-soon", "risk-flags", "discounts",
    "campaign-members", "campaign-conversion", "campaign-uplift",
    "scorecard-new-business-premium", "scorecard-renewal-rate", "scorecard-persistency-13", "scorecard-activities-done",
    "scorecard-conversion-rate", "scorecard-complaints", "scorecard-rank", "scorecard-targets", "agenda", "team-agenda",
)


@bp.get("/help")
@page_roles(*INTERNAL)
def index():
    """Every figure the pages show: what it counts, over which records and dates, in the user's scope."""
    from reports.catalogue import REPORTS

    return render_template("help/index.html", reports=sorted(REPORTS.values(), key=lambda r: (r.order, r.name)))


def help_link(anchor: str) -> Markup:
    """A small "?" link to the help entry ``anchor``, named for screen readers."""
    if anchor not in ANCHORS and not _is_report_entry(anchor):
        raise KeyError(f"no help entry {anchor!r}")
    return Markup('<a class="help" href="{}" title="{}" aria-label="{}">?</a>').format(
        url_for("help.index", _anchor=anchor), _("How is this computed?"), _("How is this computed?"))


def _is_report_entry(anchor: str) -> bool:
    """``report-<name>``: the entry of a report of the catalogue (the help page lists every report)."""
    from reports.catalogue import REPORTS

    return anchor.startswith("report-") and anchor.removeprefix("report-") in REPORTS


@bp.record_once
def _globals(state) -> None:
    state.app.jinja_env.globals.update(help_link=help_link)
