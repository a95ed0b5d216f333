"""Models of the policies domain."""

from .money import (
    Claim,
    ClaimStatus,
    Commission,
    CommissionKind,
    CommissionPayee,
    Installment,
    InstallmentStatus,
    Payment,
    PaymentAllocation,
    PaymentMethod,
)
from .policy import (
    Beneficiary,
    BusinessType,
    InsuredPerson,
    Policy,
    PolicyStatus,
    PolicyStatusChange,
    SalesChannel,
)
from .product import PremiumFrequency, Product, ProductLine
from .renewal import LostReason, RenewalCase, RenewalReminder, RenewalStatus

__all__ = [
    "Beneficiary", "BusinessType", "Claim", "ClaimStatus", "Commission", "CommissionKind", "CommissionPayee",
    "Installment", "InstallmentStatus", "InsuredPerson", "LostReason", "Payment", "PaymentAllocation",
    "PaymentMethod", "Policy", "PolicyStatus", "PolicyStatusChange", "PremiumFrequency", "Product", "ProductLine",
    "RenewalCase", "RenewalReminder", "RenewalStatus", "SalesChannel",
]
from .numbering import NumberSequence  # noqa: E402

__all__ += ["NumberSequence"]
