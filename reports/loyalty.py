"""Loyalty (忠诚度): a transparent score, 0 to 100, per policyholder, from what their record shows of a lasting
relationship (docs/metrics.md, "Loyalty").

Five parts give points, complaints take points away. Each part's raw value is capped and divided by its cap (a
fraction 0 to 1), then multiplied by its weight; the weights of the five parts add up to 100, so a policyholder at
every cap scores 100. An admin sets the weights (/admin/loyalty-weights, :mod:`reports.loyalty_views`); until then
:data:`DEFAULT_WEIGHTS` apply. Everything is computed in SQL over the policies of the report's book (the policies
the user may see that the filters keep), as of the period's end; complaints are those opened in the period.

:func:`holder_loyalty` is the one definition: the loyalty report shows it, the segments report crosses it with
contribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import marshmallow as ma
from flask import has_request_context, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Integer, String, Subquery, and_, case, cast, func, literal, select, union_all

from insurecrm import audit
from insurecrm.api import Integer as IntegerField
from insurecrm.api import Schema
from insurecrm.db import db
from insurecrm.models import User
from insurecrm.scope import visible
from policies.models import BusinessType, Installment, InstallmentStatus, Policy, PolicyStatus, Product
from policyholders.models import Policyholder, PolicyholderRelationship, ServiceKind, ServiceRequest
from reports.book import in_force_as_of
from reports.catalogue import WITH_AGENTS, report
from reports.earned import local_day_start
from reports.filters import Filters, ReportArgs, choice, policies_in_scope
from reports.models import LoyaltyWeights
from reports.sql import age_on, greatest, least, ratio
from reports.tables import Chart, Column, ReportResult, Table

#: the parts that give points, in the order they are shown, and the one that takes points away
PARTS = ("tenure", "renewals", "product_lines", "on_time", "referrals")
PENALTY = "complaints"
#: the weights until an admin saves others: the most points each part gives (or complaints take away)
DEFAULT_WEIGHTS = {"tenure": 25, "renewals": 20, "product_lines": 15, "on_time": 30, "referrals": 10, "complaints": 20}
#: the raw value at which a part gives its full weight (more counts the same): years, policies, lines, a ratio,
#: household members, complaints
CAPS = {"tenure": 10, "renewals": 5, "product_lines": 3, "on_time": 1, "referrals": 3, "complaints": 3}
PART_LABELS = {
    "tenure": _l("Tenure (completed years)"), "renewals": _l("Renewals made"),
    "product_lines": _l("Product lines held"), "on_time": _l("On-time payment ratio"),
    "referrals": _l("Household members brought in"), "complaints": _l("Complaints in the period"),
}
#: a score from this high on counts as loyal (the segments report's default split)
LOYAL_FROM = 50
#: the bands of the score's distribution: (code, lowest, highest)
BANDS = (("0-19", 0, 20), ("20-39", 20, 40), ("40-59", 40, 60), ("60-79", 60, 80), ("80-100", 80, 101))


def current_weights() -> dict[str, int]:
    """The weights in force: the admin's saved row (one query), else :data:`DEFAULT_WEIGHTS`."""
    saved = db.session.get(LoyaltyWeights, 1)
    if saved is None:
        return dict(DEFAULT_WEIGHTS)
    return {part: getattr(saved, part) for part in DEFAULT_WEIGHTS}


def _points(raw, part: str, weights: Mapping[str, int]) -> ColumnElement:
    """SQL: ``weight × min(raw, cap) ÷ cap``, rounded to 4 places (so that the parts shown add up to the score)."""
    capped = least(func.coalesce(raw, 0), literal(CAPS[part]))
    return func.round(func.coalesce(ratio(capped * weights[part], literal(CAPS[part])), 0), 4)


def _book(user: User, filters: Filters) -> ColumnElement[bool]:
    """SQL condition on ``Policy``: the report's book — policies in the user's scope kept by the filters, sold
    (not a quote), in effect by the period's end and not cancelled in their cooling-off period."""
    return and_(policies_in_scope(user, filters), Policy.status != PolicyStatus.QUOTED,
                Policy.effective_date <= filters.end, Policy.cooling_off_cancellation.is_(False))


def _per_holder(book: ColumnElement[bool], end: date) -> Subquery:
    """``(policyholder_id, first_day, renewals, product_lines)`` of each policyholder with a policy in ``book``."""
    line_in_force = case((in_force_as_of(end), Product.line))
    return (
        select(Policy.policyholder_id, func.min(Policy.effective_date).label("first_day"),
               func.count(case((Policy.business_type == BusinessType.RENEWAL, Policy.id))).label("renewals"),
               func.count(func.distinct(line_in_force)).label("product_lines"))
        .join(Product, Product.id == Policy.product_id)
        .where(book).group_by(Policy.policyholder_id).subquery("per_holder")
    )


def _installments(book: ColumnElement[bool], end: date) -> Subquery:
    """``(policyholder_id, due, on_time)``: installments of the book due by ``end`` (waived ones left out), and
    those among them fully paid on or before their due date."""
    on_time = and_(Installment.paid_date.is_not(None), Installment.paid_date <= Installment.due_date)
    return (
        select(Policy.policyholder_id, func.count().label("due"), func.count(case((on_time, 1))).label("on_time"))
        .select_from(Installment).join(Policy, Policy.id == Installment.policy_id)
        .where(book, Installment.due_date <= end, Installment.status != InstallmentStatus.WAIVED)
        .group_by(Policy.policyholder_id).subquery("installments")
    )


def _referrals(per_holder: Subquery) -> Subquery:
    """``(policyholder_id, referrals)``: the CRM records no policyholder referring another (its referrals are bank
    staff's, :class:`agents.models.Referral`); what it records is the household. A household member (a
    relationship either way, of any kind) whose first policy in the book began after this policyholder's first
    one counts as brought in by them."""
    rel = PolicyholderRelationship
    pairs = union_all(
        select(rel.from_policyholder_id.label("holder"), rel.to_policyholder_id.label("other")),
        select(rel.to_policyholder_id.label("holder"), rel.from_policyholder_id.label("other")),
    ).subquery("pairs")
    mine, theirs = per_holder.alias("mine"), per_holder.alias("theirs")
    return (
        select(pairs.c.holder.label("policyholder_id"), func.count(func.distinct(pairs.c.other)).label("referrals"))
        .join(mine, mine.c.policyholder_id == pairs.c.holder)
        .join(theirs, theirs.c.policyholder_id == pairs.c.other)
        .where(theirs.c.first_day > mine.c.first_day)
        .group_by(pairs.c.holder).subquery("referrals")
    )


def _complaints(start: date, end: date) -> Subquery:
    """``(policyholder_id, complaints)``: complaints opened from ``start`` to ``end`` (local days)."""
    first, after = local_day_start(start), local_day_start(end + timedelta(days=1))
    return (
        select(ServiceRequest.policyholder_id, func.count().label("complaints"))
        .where(ServiceRequest.kind == ServiceKind.COMPLAINT, ServiceRequest.opened_at >= first,
               ServiceRequest.opened_at < after)
        .group_by(ServiceRequest.policyholder_id).subquery("complaints")
    )


def holder_loyalty(user: User, filters: Filters, weights: Mapping[str, int]) -> Subquery:
    """One row per policyholder ``user`` may see with a policy in the report's book: ``policyholder_id,
    policyholder_name``, each part's raw value (``tenure, renewals, product_lines, installments_due, paid_on_time,
    on_time, referrals, complaints``), its points (``<part>_points``) and the ``score``: the points of the five
    parts less those of complaints, never below 0."""
    book = _book(user, filters)
    per_holder = _per_holder(book, filters.end)
    installments, referrals = _installments(book, filters.end), _referrals(per_holder)
    complaints = _complaints(filters.start, filters.end)
    raw = {
        "tenure": age_on(per_holder.c.first_day, filters.end),
        "renewals": per_holder.c.renewals,
        "product_lines": per_holder.c.product_lines,
        "on_time": ratio(installments.c.on_time, installments.c.due),
        "referrals": func.coalesce(referrals.c.referrals, 0),
        "complaints": func.coalesce(complaints.c.complaints, 0),
    }
    points = {part: _points(value, part, weights) for part, value in raw.items()}
    positive = points[PARTS[0]]
    for part in PARTS[1:]:
        positive = positive + points[part]
    score = greatest(positive - points[PENALTY], literal(0))
    return (
        select(Policyholder.id.label("policyholder_id"), Policyholder.name.label("policyholder_name"),
               raw["tenure"].label("tenure"), raw["renewals"].label("renewals"),
               raw["product_lines"].label("product_lines"),
               func.coalesce(installments.c.due, 0).label("installments_due"),
               func.coalesce(installments.c.on_time, 0).label("paid_on_time"), raw["on_time"].label("on_time"),
               raw["referrals"].label("referrals"), raw["complaints"].label("complaints"),
               *(value.label(f"{part}_points") for part, value in points.items()), score.label("score"))
        .join(per_holder, per_holder.c.policyholder_id == Policyholder.id)
        .outerjoin(installments, installments.c.policyholder_id == Policyholder.id)
        .outerjoin(referrals, referrals.c.policyholder_id == Policyholder.id)
        .outerjoin(complaints, complaints.c.policyholder_id == Policyholder.id)
        .where(visible(Policyholder, user))
        .cte("loyalty")
    )


def holder_link(row: Mapping) -> str | None:
    """A row's link to its policyholder's page (pages only: a file written from the command line has none)."""
    if not has_request_context():
        return None
    return url_for("policyholders_web.detail", policyholder_id=row["policyholder"])


def score_column() -> Column:
    return Column("score", _l("Loyalty score"), "decimal")


def _weights_table(weights: Mapping[str, int]) -> Table:
    """The weights and caps in force, as a table of the report (the score's key, printed with it)."""
    rows = [select(cast(literal(place), Integer).label("place"),
                   literal(str(PART_LABELS[part]), String).label("part"),
                   cast(literal(CAPS[part]), Integer).label("cap"),
                   cast(literal(weights[part]), Integer).label("weight"),
                   literal(str(_l("subtracted")) if part == PENALTY else str(_l("added")), String).label("counts"))
            for place, part in enumerate((*PARTS, PENALTY))]
    parts = union_all(*rows).subquery("parts")
    return Table("weights", _l("Parts of the score"),
                 [Column("part", _l("Part")), Column("cap", _l("Full points at"), "int"),
                  Column("weight", _l("Weight (most points)"), "int"), Column("counts", _l("Points are"))],
                 select(parts.c.part, parts.c.cap, parts.c.weight, parts.c.counts).order_by(parts.c.place))


class LoyaltyArgs(ReportArgs):
    band = choice({"": _l("Any score"), **{code: code for code, _low, _high in BANDS}}, label=_l("Score band"),
                  default="", description="Only the policyholders scoring in this band (the bands table's codes).")


def band_link(row: Mapping) -> str | None:
    """A band's row (or bar) opens the report's list of policyholders narrowed to that band, the other filters kept
    (pages only)."""
    if not has_request_context():
        return None
    query = {key: value for key, value in request.args.items() if not key.startswith("page")}
    return url_for("reports_web.show", name="loyalty", **(query | {"band": row["band"]}))


def _in_band(rows, band: str) -> ColumnElement[bool]:
    low, high = next((low, high) for code, low, high in BANDS if code == band)
    return and_(rows.c.score >= low, rows.c.score < high)


def _bands_table(rows: Subquery) -> Table:
    """How many policyholders score in each band of 20 points, every band shown."""
    bands = union_all(*(select(cast(literal(place), Integer).label("place"), literal(code, String).label("band"),
                               cast(literal(low), Integer).label("low"), cast(literal(high), Integer).label("high"))
                        for place, (code, low, high) in enumerate(BANDS))).subquery("bands")
    counts = (select(bands.c.place, func.count(rows.c.policyholder_id).label("policyholders"))
              .select_from(bands)
              .outerjoin(rows, and_(rows.c.score >= bands.c.low, rows.c.score < bands.c.high))
              .group_by(bands.c.place).subquery("band_counts"))
    return Table("bands", _l("Policyholders by loyalty score"),
                 [Column("band", _l("Score")), Column("policyholders", _l("Policyholders"), "int")],
                 select(bands.c.band, counts.c.policyholders).join(counts, counts.c.place == bands.c.place)
                 .order_by(bands.c.place), link=band_link)


def _holder_columns() -> list[Column]:
    return [
        Column("policyholder", _l("Policyholder"), "policyholder", name_key="policyholder_name"),
        Column("tenure", _l("Years"), "int"), Column("tenure_points", _l("Tenure points"), "decimal"),
        Column("renewals", _l("Renewals"), "int"), Column("renewals_points", _l("Renewal points"), "decimal"),
        Column("product_lines", _l("Lines"), "int"), Column("product_lines_points", _l("Line points"), "decimal"),
        Column("installments_due", _l("Installments due"), "int"),
        Column("paid_on_time", _l("Paid on time"), "int"), Column("on_time", _l("On-time ratio"), "rate"),
        Column("on_time_points", _l("On-time points"), "decimal"),
        Column("referrals", _l("Household brought in"), "int"),
        Column("referrals_points", _l("Household points"), "decimal"),
        Column("complaints", _l("Complaints"), "int"),
        Column("complaints_points", _l("Points taken for complaints"), "decimal"),
        score_column(),
    ]


@report("loyalty", title=_l("Loyalty"), args=LoyaltyArgs, roles=WITH_AGENTS, order=45,
        description=_l("Per policyholder: a loyalty score of 0 to 100 from tenure, renewals, product lines, on-time "
                       "payment and household members brought in, less complaints, each part shown."),
        help=(_l("Each part is capped and scaled to 0–1, then multiplied by its weight: tenure in completed years "
                 "since the first policy's effective date (full at 10), renewal policies (full at 5), product lines "
                 "of the policies in force at the period's end (full at 3), installments paid in full on or before "
                 "their due date ÷ installments due by the period's end (waived ones left out; none due gives no "
                 "points), and household members brought in (full at 3). Complaints opened in the period take "
                 "points away the same way (full at 3); the score never goes below 0."),
              _l("The CRM records no referral from one policyholder to another (its referrals come from bank "
                 "staff), so a household member — a relationship either way — whose first policy began after the "
                 "policyholder's first policy counts as brought in. The weights of the five parts add up to 100 and "
                 "are set by an admin; the report prints them. Everything is computed over the policies of the "
                 "report's book: those you may see that the filters keep.")))
def loyalty(user: User, args: dict, today: date) -> ReportResult:
    filters = Filters.from_args(args, today)
    weights = current_weights()
    rows = holder_loyalty(user, filters, weights)
    listed = (select(rows.c.policyholder_id.label("policyholder"),
                     *(column for column in rows.c if column.key != "policyholder_id"))
              .order_by(rows.c.score.desc(), rows.c.policyholder_id))
    if args.get("band"):  # a bar of the bands chart: the list behind it
        listed = listed.where(_in_band(rows, args["band"]))
    summary = select(func.count().label("policyholders"), func.avg(rows.c.score).label("average"),
                     func.count(case((rows.c.score >= LOYAL_FROM, 1))).label("loyal"))
    return ReportResult(
        tables=[
            Table("policyholders", _l("Loyalty by policyholder"), _holder_columns(), listed, link=holder_link),
            Table("summary", _l("Summary"),
                  [Column("policyholders", _l("Policyholders"), "int"),
                   Column("average", _l("Average score"), "decimal"),
                   Column("loyal", _l("Scoring %(n)s or more", n=LOYAL_FROM), "int")], summary),
            _bands_table(rows),
            _weights_table(weights),
        ],
        charts=[Chart("bands", _l("Policyholders by loyalty score"), "bands", "band", ["policyholders"])],
        notes=[_l("As of %(end)s; complaints from %(start)s to %(end)s. Points = weight × (value up to its cap ÷ "
                  "cap); score = the five parts' points − the complaints' points, at least 0.",
                  start=filters.start.isoformat(), end=filters.end.isoformat())],
    )


# -- the weights, as an admin sets them ------------------------------------------------------------------------

def _weight(part: str) -> IntegerField:
    return IntegerField(required=True, minimum=0, maximum=100, metadata={"label": PART_LABELS[part]})


class WeightsSchema(Schema):
    """The weights of the loyalty score: each a whole number from 0 to 100; the five parts' add up to 100 (the
    score's full marks), complaints take away at most their own."""

    tenure = _weight("tenure")
    renewals = _weight("renewals")
    product_lines = _weight("product_lines")
    on_time = _weight("on_time")
    referrals = _weight("referrals")
    complaints = _weight("complaints")

    @ma.validates_schema
    def _parts_add_up_to_100(self, data: dict, **_kwargs) -> None:
        if all(part in data for part in PARTS) and sum(data[part] for part in PARTS) != 100:
            raise ma.ValidationError(str(_l("The weights of the five parts add up to %(total)s; they must add up "
                                            "to 100.", total=sum(data[part] for part in PARTS))))


def save_weights(data: Mapping[str, int]) -> bool:
    """Store the weights ``data`` (loaded by :class:`WeightsSchema`) and write their audit entry (the changed
    weights, before and after); flush, never commit. False, with nothing written, when they are the weights
    already saved."""
    saved = db.session.get(LoyaltyWeights, 1)
    if saved is None:
        db.session.add(LoyaltyWeights(id=1, **{part: data[part] for part in DEFAULT_WEIGHTS}))
        changes = {part: [None, data[part]] for part in DEFAULT_WEIGHTS}
        action = "create"
    else:
        changes = {part: [getattr(saved, part), data[part]] for part in DEFAULT_WEIGHTS
                   if getattr(saved, part) != data[part]}
        if not changes:
            return False
        for part in changes:
            setattr(saved, part, data[part])
        action = "update"
    db.session.flush()
    audit.record(db.session, action=action, entity_type=LoyaltyWeights.__tablename__, entity_id=1, changes=changes)
    return True
