"""Models of the policies domain."""

from .money import (
    Claim,
    ClaimKind,
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
    IN_FORCE_STATUSES,
    Beneficiary,
    BusinessType,
    InsuredPerson,
    Policy,
    PolicyStatus,
    PolicyStatusChange,
    SalesChannel,
)
from .product import PremiumFrequency, Product, ProductLine
from .renewal import WORKED_CASE_STATUSES, LostReason, RenewalCase, RenewalReminder, RenewalStatus

__all__ = [
    "IN_FORCE_STATUSES", "WORKED_CASE_STATUSES", "Beneficiary", "BusinessType", "Claim", "ClaimKind", "ClaimStatus",
    "Commission", "CommissionKind", "CommissionPayee",
    "Installment", "InstallmentStatus", "InsuredPerson", "LostReason", "Payment", "PaymentAllocation",
    "PaymentMethod", "Policy", "PolicyStatus", "PolicyStatusChange", "PremiumFrequency", "Product", "ProductLine",
    "RenewalCase", "RenewalReminder", "RenewalStatus", "SalesChannel",
]
from .numbering import NumberSequence  # noqa: E402

__all__ += ["NumberSequence"]
