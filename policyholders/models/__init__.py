"""Models of the policyholders domain."""

from .policyholder import (
    AGE_BANDS,
    AcquisitionChannel,
    ContactChannel,
    Gender,
    IdType,
    IncomeBand,
    MaritalStatus,
    PartyKind,
    Policyholder,
    PolicyholderRelationship,
    PolicyholderStatus,
    PolicyholderTag,
    RelationshipKind,
)
from .service import (
    Campaign,
    CampaignChannel,
    CampaignKind,
    CampaignMember,
    CampaignStatus,
    Direction,
    Interaction,
    InteractionChannel,
    MemberStatus,
    ServiceCategory,
    ServiceKind,
    ServicePriority,
    ServiceRequest,
    ServiceStatus,
)

__all__ = [
    "AGE_BANDS", "AcquisitionChannel", "Campaign", "CampaignChannel", "CampaignKind", "CampaignMember",
    "CampaignStatus", "ContactChannel", "Direction", "Gender", "IdType", "IncomeBand", "Interaction",
    "InteractionChannel", "MaritalStatus", "MemberStatus", "PartyKind", "Policyholder", "PolicyholderRelationship",
    "PolicyholderStatus", "PolicyholderTag", "RelationshipKind", "ServiceCategory", "ServiceKind", "ServicePriority",
    "ServiceRequest", "ServiceStatus",
]
