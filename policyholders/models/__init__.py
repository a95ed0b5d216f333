"""Models of the policyholders domain."""

from policyholders.campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignKind,
    CampaignMember,
    CampaignStatus,
)

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
    Direction,
    Interaction,
    InteractionChannel,
    ServiceCategory,
    ServiceKind,
    ServicePriority,
    ServiceRequest,
    ServiceStatus,
)

__all__ = [
    "AGE_BANDS", "AcquisitionChannel", "Campaign", "CampaignChannel", "CampaignKind", "CampaignMember",
    "CampaignStatus", "ContactChannel", "Direction", "Gender", "IdType", "IncomeBand", "Interaction",
    "InteractionChannel", "MaritalStatus", "PartyKind", "Policyholder", "PolicyholderRelationship",
    "PolicyholderStatus", "PolicyholderTag", "RelationshipKind", "ServiceCategory", "ServiceKind", "ServicePriority",
    "ServiceRequest", "ServiceStatus",
]
