"""Quotes (产品报价): the rules of a product's rate table and the premium computed from it.

**The premium.** For a product with a flat annual premium (``RateTableSettings.flat_premium``), the annual premium is
that amount, whatever the age, gender and sum insured. Otherwise it is read from the rate row covering the age and
the gender (a row for that gender, else a row for any gender): annual premium = sum insured ÷ 1,000 × the row's
premium per 1,000. The installment of the chosen frequency is annual premium × the frequency's loading ÷ the
installments a year (12 monthly, 4 quarterly, 2 half-yearly, 1 annual or single); a frequency without a loading has
the loading 1. Each amount is rounded half up to the cent, the installment from the rounded annual premium.

A quote keeps what it was computed with (rate, loading, both premiums): a later change of the table does not
rewrite it. Ages are whole years on the quote's date (the insurer's today), from the date of birth when one is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import ColumnElement, or_, select

from agents.models import FrequencyLoading, Opportunity, OpportunityStatus, Quote, RateRow, RateTableSettings
from insurecrm import clock
from insurecrm.db import db
from insurecrm.labels import label
from insurecrm.models import Role, User
from insurecrm.scope import by_role, everything, register, visible_ids
from policies.models import PremiumFrequency, Product
from policies.payments import to_money
from policyholders.models import Policyholder

THOUSAND = Decimal("1000")
ONE = Decimal("1")


@register(Quote)
def quote_rule(user: User) -> ColumnElement[bool]:
    """A quote is visible with its opportunity or its policyholder, and to the user who made it (a prospect's quote
    outside any opportunity); admins see all. Actuaries and referrers have no business with quotes (403)."""

    def through_parents() -> ColumnElement[bool]:
        return or_(Quote.opportunity_id.in_(visible_ids(Opportunity, user)),
                   Quote.policyholder_id.in_(visible_ids(Policyholder, user)),
                   Quote.created_by_user_id == user.id)

    return by_role(user, {Role.ADMIN: lambda: everything(user), Role.BRANCH_MANAGER: through_parents,
                          Role.AGENT: through_parents, Role.BANCASSURANCE_SPECIALIST: through_parents})


# -- the rate table -------------------------------------------------------------------------------------

def rate_rows(product: Product) -> list[RateRow]:
    """The product's rate rows, by age band then gender."""
    return list(db.session.scalars(select(RateRow).where(RateRow.product_id == product.id)
                                   .order_by(RateRow.age_min, RateRow.gender.is_not(None), RateRow.gender)))


def _overlapping(product_id: int, data: dict, *, except_id: int | None = None) -> RateRow | None:
    """A row of the product whose band shares an age with ``data``'s and whose gender meets it (the same, or
    either for any gender): two such rows would both price a person."""
    stmt = select(RateRow).where(RateRow.product_id == product_id, RateRow.age_min <= data["age_max"],
                                 RateRow.age_max >= data["age_min"])
    if data.get("gender") is not None:
        stmt = stmt.where(or_(RateRow.gender.is_(None), RateRow.gender == data["gender"]))
    if except_id is not None:
        stmt = stmt.where(RateRow.id != except_id)
    return db.session.scalars(stmt.order_by(RateRow.age_min).limit(1)).first()


def _refuse_overlap(product_id: int, data: dict, except_id: int | None = None) -> None:
    other = _overlapping(product_id, data, except_id=except_id)
    if other is not None:
        raise ValidationError({"age_min": [_("Overlaps the band %(min)s–%(max)s (%(gender)s) already in the table.",
                                             min=other.age_min, max=other.age_max,
                                             gender=label(other.gender, "gender") if other.gender
                                             else _("any gender"))]})


def add_rate_row(product: Product, data: dict) -> RateRow:
    """Add a row (``age_min``, ``age_max``, ``gender`` or none for any, ``rate_per_thousand``) to the product's
    table. Refuses (422) a band overlapping a row of the same or any gender (the schema refuses a band in the wrong
    order and a negative rate)."""
    _refuse_overlap(product.id, data)
    row = RateRow(product_id=product.id, **data)
    db.session.add(row)
    db.session.flush()
    return row


def update_rate_row(row: RateRow, data: dict) -> RateRow:
    """Change a row's band, gender or rate. Refuses (422) what :func:`add_rate_row` refuses, judged against the
    other rows."""
    _refuse_overlap(row.product_id, data, except_id=row.id)
    for key, value in data.items():
        setattr(row, key, value)
    db.session.flush()
    return row


def delete_rate_row(row: RateRow) -> None:
    """Remove a row from its table (quotes already made keep their rate). Refuses nothing."""
    db.session.delete(row)
    db.session.flush()


def settings_of(product: Product) -> RateTableSettings | None:
    return db.session.scalar(select(RateTableSettings).where(RateTableSettings.product_id == product.id))


def set_flat_premium(product: Product, flat_premium: Decimal | None) -> RateTableSettings:
    """Set (or clear, with ``None``) the product's flat annual premium; while set, the rows are not read. Refuses
    nothing beyond the schema (a negative amount)."""
    settings = settings_of(product)
    if settings is None:
        settings = RateTableSettings(product_id=product.id)
        db.session.add(settings)
    settings.flat_premium = None if flat_premium is None else to_money(flat_premium)
    db.session.flush()
    return settings


def loadings_of(product: Product) -> dict[str, Decimal]:
    return dict(db.session.execute(select(FrequencyLoading.frequency, FrequencyLoading.loading)
                                   .where(FrequencyLoading.product_id == product.id)).all())


def set_loading(product: Product, frequency: str, loading: Decimal) -> FrequencyLoading:
    """Set the loading of ``frequency`` on the product. Refuses (422) a frequency the product is not sold with (the
    schema refuses a loading of zero or less)."""
    if frequency not in product.frequencies:
        raise ValidationError({"frequency": [_("The product is not sold with this frequency.")]})
    row = db.session.scalar(select(FrequencyLoading).where(FrequencyLoading.product_id == product.id,
                                                           FrequencyLoading.frequency == frequency))
    if row is None:
        row = FrequencyLoading(product_id=product.id, frequency=frequency)
        db.session.add(row)
    row.loading = loading
    db.session.flush()
    return row


# -- the premium ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Premium:
    rate_per_thousand: Decimal | None
    loading: Decimal
    annual: Decimal
    installment: Decimal


def age_on(born: date, day: date) -> int:
    """Whole years from ``born`` to ``day`` (a birthday on 29 February is reached on 1 March in other years)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def premium(product: Product, *, age: int, gender: str | None, sum_insured: Decimal, frequency: str) -> Premium:
    """The annual premium and the installment of ``frequency`` for a person of ``age`` and ``gender`` (``None`` or
    ``other``: the rows for any gender only), per the module's rule. Refuses (422) a frequency the product is not
    sold with, and an age and gender no row covers (on ``age``) when the product has no flat premium."""
    if frequency not in product.frequencies:
        raise ValidationError({"frequency": [_("The product is not sold with this frequency.")]})
    settings = settings_of(product)
    rate = None
    if settings is not None and settings.flat_premium is not None:
        annual = to_money(settings.flat_premium)
    else:
        rate = _rate_for(product, age, gender)
        annual = to_money(Decimal(sum_insured) * rate / THOUSAND)
    loading = loadings_of(product).get(frequency, ONE)
    installment = to_money(annual * loading / PremiumFrequency(frequency).per_year)
    return Premium(rate, loading, annual, installment)


def _rate_for(product: Product, age: int, gender: str | None) -> Decimal:
    genders = [None] if gender not in ("female", "male") else [gender, None]
    rows = db.session.scalars(select(RateRow).where(
        RateRow.product_id == product.id, RateRow.age_min <= age, RateRow.age_max >= age,
        or_(*(RateRow.gender.is_(None) if g is None else RateRow.gender == g for g in genders)))).all()
    for wanted in genders:
        for row in rows:
            if row.gender == wanted:
                return row.rate_per_thousand
    raise ValidationError({"age": [_("No rate of this product covers age %(age)s (%(gender)s).", age=age,
                                     gender=label(gender, "gender") if gender else _("any gender"))]})


# -- quotes ------------------------------------------------------------------------------------------------

def create_quote(data: dict, *, actor: User, opportunity: Opportunity | None = None,
                 policyholder: Policyholder | None = None) -> Quote:
    """Compute and save a quote for the opportunity's policyholder or prospect, or for ``policyholder``, or for a
    prospect named in ``data`` (``opportunity`` and ``policyholder`` are loaded in the actor's scope by the caller).
    The age is read from ``date_of_birth`` (given, or the policyholder's) on today's date, else ``age``; the gender
    is the one given, else the policyholder's.

    Refuses (422) a closed opportunity, a quote for nobody (no policyholder and no prospect name), no age, an
    inactive or unknown product, and whatever :func:`premium` refuses. Writes nothing when refused."""
    today = clock.today()
    if opportunity is not None:
        if opportunity.status != OpportunityStatus.OPEN:
            raise ValidationError({"opportunity_id": [_("The opportunity is closed: quote a new one.")]})
        if opportunity.policyholder_id is not None:
            policyholder = db.session.get(Policyholder, opportunity.policyholder_id)
    errors: dict[str, list[str]] = {}
    prospect_name = None if policyholder is not None else (
        data.get("prospect_name") or (opportunity.prospect_name if opportunity is not None else None))
    if policyholder is None and not prospect_name:
        errors["prospect_name"] = [_("Name the prospect (or quote for a policyholder).")]
    born = data.get("date_of_birth") or (policyholder.date_of_birth if policyholder is not None else None)
    age = age_on(born, today) if born is not None else data.get("age")
    if age is None:
        errors["age"] = [_("Give the date of birth or the age.")]
    product = db.session.get(Product, data["product_id"])
    if product is None or not product.active:
        errors["product_id"] = [_("No such product on sale.")]
    if errors:
        raise ValidationError(errors)
    gender = data.get("gender") or (_gender_of(policyholder) if policyholder is not None else None)
    computed = premium(product, age=age, gender=gender, sum_insured=data["sum_insured"],
                       frequency=data["frequency"])
    quote = Quote(opportunity_id=opportunity.id if opportunity is not None else None,
                  policyholder_id=policyholder.id if policyholder is not None else None, prospect_name=prospect_name,
                  date_of_birth=born, age=age, gender=gender, product_id=product.id,
                  sum_insured=to_money(data["sum_insured"]), frequency=data["frequency"],
                  rate_per_thousand=computed.rate_per_thousand, loading=computed.loading,
                  annual_premium=computed.annual, installment_premium=computed.installment,
                  created_by_user_id=actor.id)
    db.session.add(quote)
    db.session.flush()
    return quote


def _gender_of(policyholder: Policyholder) -> str | None:
    gender = policyholder.gender
    return None if gender is None else str(getattr(gender, "value", gender))


def quotes_of(opportunity: Opportunity) -> list[Quote]:
    """The opportunity's quotes, newest first, with their products (one query)."""
    from sqlalchemy.orm import joinedload

    return list(db.session.scalars(select(Quote).options(joinedload(Quote.product))
                                   .where(Quote.opportunity_id == opportunity.id)
                                   .order_by(Quote.created_at.desc(), Quote.id.desc())))


def latest_quote(opportunity_id: int) -> Quote | None:
    """The opportunity's newest quote, if any."""
    return db.session.scalars(select(Quote).where(Quote.opportunity_id == opportunity_id)
                              .order_by(Quote.created_at.desc(), Quote.id.desc()).limit(1)).first()
