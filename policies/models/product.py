"""Products (险种)."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from insurecrm.db import Base, Rate, TimestampMixin


class ProductLine(enum.StrEnum):
    LIFE = "life"
    HEALTH = "health"
    ACCIDENT = "accident"
    PROPERTY = "property"
    MOTOR = "motor"
    ANNUITY = "annuity"


class PremiumFrequency(enum.StrEnum):
    SINGLE = "single"
    ANNUAL = "annual"
    SEMIANNUAL = "semiannual"
    QUARTERLY = "quarterly"
    MONTHLY = "monthly"

    @property
    def months_between(self) -> int | None:
        """Months between two installments; ``None`` for a single premium."""
        return {"single": None, "annual": 12, "semiannual": 6, "quarterly": 3, "monthly": 1}[self.value]

    @property
    def per_year(self) -> int:
        """Installments a year (a single premium counts once)."""
        return 1 if self.months_between is None else 12 // self.months_between


class Product(TimestampMixin, Base):
    """A product with its term, premium frequencies, commission rates, grace and callback rules."""

    __tablename__ = "products"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str | None] = mapped_column(String(120))
    line: Mapped[ProductLine] = mapped_column(index=True)
    description: Mapped[str | None] = mapped_column(Text)
    #: coverage term of one policy, in months (12 for a yearly renewable product)
    term_months: Mapped[int]
    renewable: Mapped[bool] = mapped_column(default=False)
    #: the :class:`PremiumFrequency` values this product may be sold with
    frequencies: Mapped[list[Any]] = mapped_column(default=lambda: ["annual"])
    first_year_commission_rate: Mapped[Rate] = mapped_column(default=Decimal("0"))
    renewal_commission_rate: Mapped[Rate] = mapped_column(default=Decimal("0"))
    bank_share_rate: Mapped[Rate] = mapped_column(default=Decimal("0"))
    grace_period_days: Mapped[int] = mapped_column(default=60)
    cooling_off_days: Mapped[int] = mapped_column(default=15)
    callback_required: Mapped[bool] = mapped_column(default=False)
    #: days before expiry at which a renewal case opens; ``None``: ``INSURECRM_RENEWAL_WINDOW_DAYS``
    renewal_window_days: Mapped[int | None]
    #: the largest renewal discount an agent may give without a manager's approval
    max_renewal_discount: Mapped[Rate] = mapped_column(default=Decimal("0.1000"))
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def frequency_list(self) -> list[PremiumFrequency]:
        return [PremiumFrequency(f) for f in self.frequencies]
