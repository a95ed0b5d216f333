"""Quotes (产品报价): a product's rate table, kept by admins, and the quotes computed from it.

A product is quoted either from **rate rows** (the annual premium per 1,000 of sum insured for an age band and a
gender, or any gender) or from a **flat annual premium** (the product's settings; when set, the rows are not read).
A **loading** per premium frequency turns the annual premium into the installment: installment = annual premium ×
loading ÷ installments a year (a frequency without a loading row has the loading 1). See
:mod:`agents.pipeline.quotes` for the computation and its rounding.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from insurecrm.db import Base, Money, utcnow

#: a premium per 1,000 of sum insured: 4 decimal places (0.8125 per mille)
RATE_PER_THOUSAND = Numeric(12, 4, asdecimal=True)
#: a frequency's loading: a factor such as 1.0400
LOADING = Numeric(7, 4, asdecimal=True)


class RateRow(Base):
    """One row of a product's rate table: ages ``age_min`` to ``age_max`` (both included), a gender or any
    (``None``), and the annual premium per 1,000 of sum insured. Rows of a product never overlap (the service
    refuses it), so at most one row covers an age and a gender."""

    __tablename__ = "rate_rows"
    __audited__ = True
    __table_args__ = (CheckConstraint("age_min >= 0 AND age_min <= age_max AND age_max <= 150", name="age_band"),
                      CheckConstraint("rate_per_thousand >= 0", name="rate_not_negative"))

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    age_min: Mapped[int]
    age_max: Mapped[int]
    #: ``female`` or ``male``; ``None`` for any gender
    gender: Mapped[str | None] = mapped_column(String(16))
    rate_per_thousand: Mapped[Decimal] = mapped_column(RATE_PER_THOUSAND)


class RateTableSettings(Base):
    """A product's quote settings: a flat annual premium (``None``: quoted from the rate rows)."""

    __tablename__ = "rate_table_settings"
    __audited__ = True
    __table_args__ = (CheckConstraint("flat_premium IS NULL OR flat_premium >= 0", name="flat_premium_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), unique=True)
    flat_premium: Mapped[Money | None]


class FrequencyLoading(Base):
    """The loading of a premium frequency on a product: installment = annual premium × loading ÷ installments a
    year (e.g. 1.0400 on monthly premiums: 1,200.00 a year → 104.00 a month)."""

    __tablename__ = "frequency_loadings"
    __audited__ = True
    __table_args__ = (UniqueConstraint("product_id", "frequency"),
                      CheckConstraint("loading > 0", name="loading_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    #: a :class:`~policies.models.PremiumFrequency` value
    frequency: Mapped[str] = mapped_column(String(16))
    loading: Mapped[Decimal] = mapped_column(LOADING)


class Quote(Base):
    """A quote for a policyholder or a prospect, computed from the product's rate table when it was made and kept
    as computed (a later change of the table does not rewrite it). Saved on an opportunity when made from one."""

    __tablename__ = "quotes"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    policyholder_id: Mapped[int | None] = mapped_column(ForeignKey("policyholders.id"), index=True)
    #: the prospect's name when the quote is for no policyholder
    prospect_name: Mapped[str | None] = mapped_column(String(120))
    date_of_birth: Mapped[date | None]
    #: the age the premium was read for: in whole years on the quote's date (from the date of birth when given)
    age: Mapped[int]
    gender: Mapped[str | None] = mapped_column(String(16))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sum_insured: Mapped[Money]
    #: a :class:`~policies.models.PremiumFrequency` value
    frequency: Mapped[str] = mapped_column(String(16))
    #: the rate row's premium per 1,000 (``None`` for a flat premium)
    rate_per_thousand: Mapped[Decimal | None] = mapped_column(RATE_PER_THOUSAND)
    loading: Mapped[Decimal] = mapped_column(LOADING)
    annual_premium: Mapped[Money]
    installment_premium: Mapped[Money]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)

    product = relationship("Product")
