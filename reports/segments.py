"""Segments of the book: contribution × loyalty in four quadrants, each with its treatment, and the key customers
(80/20): the fewest policyholders who make 80% of the positive contribution (docs/metrics.md, "Segments", "Key
customers").

Contribution is :func:`reports.contribution.holder_contribution` and loyalty :func:`reports.loyalty.holder_loyalty`:
this module only crosses and ranks them, in SQL, inside the user's scope.
"""

from __future__ import annotations

from datetime import date

from flask import has_request_context, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)

from insurecrm.api import Integer as IntegerField
from insurecrm.api import Money
from insurecrm.db import db
from insurecrm.models import User
from reports.catalogue import WITH_AGENTS, report
from reports.contribution import holder_contribution
from reports.earned import money, rate
from reports.filters import Filters, ReportArgs, choice, flag
from reports.loyalty import LOYAL_FROM, current_weights, holder_link, holder_loyalty, score_column
from reports.tables import Chart, Column, ReportResult, Table, cell

#: the quadrants: code → (name, treatment), in the order they are listed
QUADRANTS = {
    "keep": (_l("High contribution, loyal"), _l("Reward and keep")),
    "cross_sell": (_l("Low contribution, loyal"), _l("Cross-sell")),
    "secure": (_l("High contribution, not loyal"), _l("Secure")),
    "serve_cheaper": (_l("Low contribution, not loyal"), _l("Lower the cost of serving")),
}
#: the share of the positive contribution the key customers make
KEY_SHARE = (8, 10)


class SegmentArgs(ReportArgs):
    quadrant = choice({"": _l("All quadrants"), **{code: name for code, (name, _treatment) in QUADRANTS.items()}},
                      label=_l("Quadrant"), default="", description="Only the policyholders of this quadrant.")
    contribution_above = Money(metadata={"label": _l("High contribution above"),
                                         "description": "Contribution is high above this amount (default: the "
                                                        "median contribution of the policyholders in scope)."})
    loyal_from = IntegerField(load_default=LOYAL_FROM, minimum=0, maximum=100,
                              metadata={"label": _l("Loyal from score"),
                                        "description": f"Loyalty is high from this score on (default {LOYAL_FROM})."})


def segment_rows(user: User, filters: Filters) -> Subquery:
    """One row per policyholder with a policy in the loyalty book: ``policyholder_id, policyholder_name, earned,
    contribution`` (0 when nothing happened in the period) and the loyalty ``score``."""
    loyalty = holder_loyalty(user, filters, current_weights())
    contribution = holder_contribution(user, filters)
    return (
        select(loyalty.c.policyholder_id, loyalty.c.policyholder_name,
               func.coalesce(contribution.c.earned, 0).label("earned"),
               func.coalesce(contribution.c.contribution, 0).label("contribution"), loyalty.c.score)
        .outerjoin(contribution, contribution.c.policyholder_id == loyalty.c.policyholder_id)
        .cte("segment_rows")
    )


def median_contribution(rows: Subquery) -> Select:
    """SQL: the median of ``rows.c.contribution`` (the mean of the middle two of an even count; NULL of none),
    by ranks, the same on both databases."""
    ranked = select(rows.c.contribution, func.row_number().over(order_by=rows.c.contribution).label("n"),
                    func.count().over().label("total")).subquery("ranked")
    return select(func.avg(ranked.c.contribution)).where(ranked.c.n * 2 >= ranked.c.total,
                                                         ranked.c.n * 2 <= ranked.c.total + 2)


def quadrant_of(high_contribution: ColumnElement[bool], loyal: ColumnElement[bool]) -> ColumnElement[str]:
    """SQL: the quadrant's code of a row, from whether its contribution is high and whether it is loyal (also a
    segment's filter: :mod:`policyholders.segments.filters`)."""
    return case((and_(high_contribution, loyal), literal("keep")), (loyal, literal("cross_sell")),
                (high_contribution, literal("secure")), else_=literal("serve_cheaper"))


def _quadrant_texts(code_column) -> tuple[ColumnElement, ColumnElement, ColumnElement]:
    """SQL: a quadrant's place, name and treatment in the reader's language (translated when built)."""
    place = case({code: n for n, code in enumerate(QUADRANTS)}, value=code_column)
    name = case({code: literal(str(name), String) for code, (name, _treatment) in QUADRANTS.items()}, value=code_column)
    treatment = case({code: literal(str(t), String) for code, (_name, t) in QUADRANTS.items()}, value=code_column)
    return place, name, treatment


def _drill_down(row) -> str | None:
    """The list behind a quadrant: this report with the same filters and ``quadrant`` (pages only: a file written
    from the command line has no links)."""
    if not has_request_context():
        return None
    params = {key: value for key, value in request.args.items() if not key.startswith("page") and key != "quadrant"}
    return url_for("reports_web.show", name="segments", quadrant=row["quadrant_code"], **params)


@report("segments", title=_l("Segments: contribution × loyalty"), args=SegmentArgs, roles=WITH_AGENTS, order=46,
        description=_l("Policyholders in four quadrants of contribution and loyalty, each with its treatment: "
                       "reward and keep, cross-sell, secure, lower the cost of serving."),
        help=(_l("Each policyholder with a policy in your book is placed by their contribution over the period "
                 "(as in the Contribution report; 0 when nothing happened) and their loyalty score (as in the "
                 "Loyalty report). Contribution is high above the median of these policyholders (a policyholder at "
                 "the median is low), or above the amount you give; loyalty is high from a score of 50, or the "
                 "score you give."),
              _l("High contribution and loyal: reward and keep. Loyal, low contribution: cross-sell. High "
                 "contribution, not loyal: secure the relationship. Low contribution, not loyal: lower the cost "
                 "of serving. Click a quadrant to list its policyholders.")))
def segments(user: User, args: dict, today: date) -> ReportResult:
    filters = Filters.from_args(args, today)
    rows = segment_rows(user, filters)
    given = args.get("contribution_above")
    threshold = given if given is not None else median_contribution(rows).scalar_subquery()
    high, loyal = rows.c.contribution > threshold, rows.c.score >= args.get("loyal_from", LOYAL_FROM)
    placed = select(*rows.c, quadrant_of(high, loyal).label("quadrant_code")).cte("placed")
    place, name, treatment = _quadrant_texts(placed.c.quadrant_code)
    listed = (select(placed.c.policyholder_id.label("policyholder"), placed.c.policyholder_name,
                     money(placed.c.earned).label("earned"), money(placed.c.contribution).label("contribution"),
                     placed.c.score, name.label("quadrant"), treatment.label("treatment"), placed.c.quadrant_code)
              .order_by(place, placed.c.contribution.desc(), placed.c.policyholder_id))
    if args.get("quadrant"):
        listed = listed.where(placed.c.quadrant_code == args["quadrant"])
    return ReportResult(
        tables=[_summary(placed), Table(
            "policyholders", _l("Policyholders by quadrant"),
            [Column("policyholder", _l("Policyholder"), "policyholder", name_key="policyholder_name"),
             Column("earned", _l("Earned premium"), "money"), Column("contribution", _l("Contribution"), "money"),
             score_column(), Column("quadrant", _l("Quadrant")), Column("treatment", _l("Treatment"))], listed,
            link=holder_link)],
        charts=[Chart("quadrants", _l("Policyholders per quadrant"), "summary", "quadrant", ["policyholders"])],
        notes=[_threshold_note(rows, given, args.get("loyal_from", LOYAL_FROM), filters)],
    )


def _summary(placed: Subquery) -> Table:
    """Per quadrant, every quadrant listed: policyholders, earned premium, contribution and the treatment."""
    codes = union_all(*(select(literal(code, String).label("code")) for code in QUADRANTS)).subquery("codes")
    place, name, treatment = _quadrant_texts(codes.c.code)
    statement = (
        select(codes.c.code.label("quadrant_code"), name.label("quadrant"),
               func.count(placed.c.policyholder_id).label("policyholders"),
               money(func.coalesce(func.sum(placed.c.earned), 0)).label("earned"),
               money(func.coalesce(func.sum(placed.c.contribution), 0)).label("contribution"),
               treatment.label("treatment"))
        .select_from(codes).outerjoin(placed, placed.c.quadrant_code == codes.c.code)
        .group_by(codes.c.code).order_by(place)
    )
    return Table("summary", _l("Quadrants"),
                 [Column("quadrant", _l("Quadrant")), Column("policyholders", _l("Policyholders"), "int"),
                  Column("earned", _l("Earned premium"), "money"), Column("contribution", _l("Contribution"), "money"),
                  Column("treatment", _l("Treatment"))], statement, link=_drill_down)


def _threshold_note(rows: Subquery, given, loyal_from: int, filters: Filters):
    if given is not None:
        split = _l("contribution above %(amount)s (the amount given)", amount=str(given))
    else:
        median = db.session.scalar(median_contribution(rows))
        shown = "—" if median is None else str(cell(Column("median", "", "money"), {"median": median},
                                                     pseudonymise=False))
        split = _l("contribution above %(amount)s, the median of the policyholders listed", amount=shown)
    return _l("From %(start)s to %(end)s. High: %(split)s; loyal: a score of %(score)s or more.",
              start=filters.start.isoformat(), end=filters.end.isoformat(), split=split, score=loyal_from)


# -- key customers (80/20) ---------------------------------------------------------------------------------

class KeyCustomerArgs(ReportArgs):
    key_only = flag(label=_l("Key customers only"), description="Only the key customers.")


def ranked_contribution(user: User, filters: Filters) -> Subquery:
    """Each policyholder of :func:`holder_contribution`, by contribution from the highest (ties: the lower id
    first), with ``rank``, the running ``positive`` contribution (negative ones count 0) up to and including them,
    the ``total`` positive contribution and ``key``: their contribution is positive and the running share before
    them is under 80% (compared in whole multiples, not as a rounded fraction)."""
    rows = holder_contribution(user, filters)
    positive = case((rows.c.contribution > 0, rows.c.contribution), else_=0)
    order = (rows.c.contribution.desc(), rows.c.policyholder_id)
    running = func.sum(positive).over(order_by=order, rows=(None, 0))
    ranked = select(rows.c.policyholder_id, rows.c.policyholder_name, rows.c.contribution,
                    func.row_number().over(order_by=order).label("rank"), positive.label("own"),
                    running.label("running"), func.sum(positive).over().label("total")).subquery("ranked")
    before = ranked.c.running - ranked.c.own
    numerator, denominator = KEY_SHARE
    is_key = and_(ranked.c.contribution > 0,
                  func.round(before * denominator - ranked.c.total * numerator, 6) < 0)
    return select(*ranked.c, case((is_key, 1), else_=0).label("is_key")).cte("key_customers")


@report("key-customers", title=_l("Key customers (80/20)"), args=KeyCustomerArgs, roles=WITH_AGENTS, order=47,
        description=_l("The fewest policyholders who make 80 per cent of the positive contribution, with the Pareto "
                       "curve."),
        help=(_l("Policyholders are ranked by contribution over the period, the highest first (equal contributions "
                 "by the older record first). A policyholder is a key customer while the contribution of those "
                 "ranked before them is under 80 per cent of the total positive contribution: the last key customer "
                 "is the one who takes the running share to 80 per cent or beyond."),
              _l("Negative or zero contributions add nothing to the running share and are never key. The summary "
                 "gives how many key customers there are, their share of the policyholders listed and their share "
                 "of the positive contribution.")))
def key_customers(user: User, args: dict, today: date) -> ReportResult:
    filters = Filters.from_args(args, today)
    ranked = ranked_contribution(user, filters)
    yes_no = case((ranked.c.is_key == 1, literal(str(_l("Yes")), String)), else_=literal(str(_l("No")), String))
    listed = (select(cast(ranked.c.rank, Integer).label("rank"), ranked.c.policyholder_id.label("policyholder"),
                     ranked.c.policyholder_name, money(ranked.c.contribution).label("contribution"),
                     rate(ranked.c.running, ranked.c.total).label("cumulative_share"), yes_no.label("key"))
              .order_by(ranked.c.rank))
    if args.get("key_only"):
        listed = listed.where(ranked.c.is_key == 1)
    key_contribution = func.coalesce(func.sum(case((ranked.c.is_key == 1, ranked.c.contribution))), 0)
    keys = func.coalesce(func.sum(ranked.c.is_key), 0)
    summary = select(keys.label("key_customers"), func.count().label("policyholders"),
                     rate(keys, func.count()).label("share_of_count"),
                     money(key_contribution).label("key_contribution"),
                     money(func.coalesce(func.max(ranked.c.total), 0)).label("positive_contribution"),
                     rate(key_contribution, func.max(ranked.c.total)).label("share_of_contribution"))
    return ReportResult(
        tables=[
            Table("customers", _l("Policyholders by contribution"),
                  [Column("rank", _l("Rank"), "int"),
                   Column("policyholder", _l("Policyholder"), "policyholder", name_key="policyholder_name"),
                   Column("contribution", _l("Contribution"), "money"),
                   Column("cumulative_share", _l("Cumulative share"), "rate"), Column("key", _l("Key customer"))],
                  listed, link=holder_link),
            Table("summary", _l("Key customers"),
                  [Column("key_customers", _l("Key customers"), "int"),
                   Column("policyholders", _l("Policyholders"), "int"),
                   Column("share_of_count", _l("Share of policyholders"), "rate"),
                   Column("key_contribution", _l("Their contribution"), "money"),
                   Column("positive_contribution", _l("Positive contribution"), "money"),
                   Column("share_of_contribution", _l("Share of positive contribution"), "rate")], summary),
        ],
        charts=[Chart("pareto", _l("Contribution and cumulative share"), "customers", "policyholder",
                      ["contribution", "cumulative_share"], kind="pareto", secondary=["cumulative_share"])],
        notes=[_l("From %(start)s to %(end)s. Cumulative share = the positive contribution up to and including the "
                  "policyholder ÷ the total positive contribution.",
                  start=filters.start.isoformat(), end=filters.end.isoformat())],
    )

