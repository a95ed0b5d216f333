"""Models of the agents domain: organisation, agents, bancassurance and the sales pipeline."""

from .bancassurance import BankBranch, BankPartner, PartnerStatus, Referral, ReferralStatus, Referrer
from .org import Agent, AgentChannel, AgentStatus, OrgUnit, OrgUnitKind, agent_bank_partners
from .pipeline import (
    Activity,
    ActivityKind,
    ActivityStatus,
    Attitude,
    Competitor,
    Influencer,
    InfluencerRole,
    Opportunity,
    OpportunityLossReason,
    OpportunityProduct,
    OpportunitySource,
    OpportunityStageChange,
    OpportunityStatus,
    OpportunityTeamMember,
    PipelineStage,
    Priority,
    Recurrence,
    TaskOutcome,
    TaskReason,
)
from .quotes import FrequencyLoading, Quote, RateRow, RateTableSettings

__all__ = [
    "Activity", "ActivityKind", "ActivityStatus", "Agent", "AgentChannel", "AgentStatus", "Attitude", "BankBranch",
    "BankPartner", "Competitor", "Influencer", "InfluencerRole", "Opportunity", "OpportunityLossReason",
    "OpportunityProduct",
    "OpportunitySource", "OpportunityStageChange", "OpportunityStatus", "OpportunityTeamMember", "OrgUnit",
    "OrgUnitKind", "PartnerStatus", "PipelineStage", "Priority", "Recurrence", "Referral", "ReferralStatus",
    "Referrer", "TaskOutcome", "TaskReason", "agent_bank_partners",
    "FrequencyLoading", "Quote", "RateRow", "RateTableSettings",
]
