"""Fixed reference data of the demo book: branches, products, banks, occupations and wording.

Everything here is fictional (company, banks, competitors); names of people come from Faker.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BranchDef:
    code: str
    name: str
    region: str
    #: city prefixes (4 digits) of PRC region codes where this branch's customers were born, most local first
    city_prefixes: tuple[str, ...]
    #: address prefix for customers' addresses
    address_prefix: str


BRANCHES = (
    BranchDef("SH", "Shanghai Branch", "Shanghai", ("3101",), "上海市"),
    BranchDef("BJ", "Beijing Branch", "Beijing", ("1101",), "北京市"),
    BranchDef("GD", "Guangdong Branch", "Guangdong", ("4401", "4403"), "广东省"),
    BranchDef("SC", "Sichuan Branch", "Sichuan", ("5101",), "四川省成都市"),
)
#: where customers who moved to a branch's city were born
MIGRANT_CITY_PREFIXES = ("4301", "4201", "3701", "4101", "3201", "3301", "3601", "6101", "3502", "1201")

COMPANY = ("HQ", "Hengtai Life & General Insurance Co.", "Shanghai")

BANK_PARTNERS = (
    ("LHCB", "Lianhe Commercial Bank", "0.0300"),
    ("JHRB", "Jinhai Rural Commercial Bank", "0.0350"),
    ("DFBK", "Dongfang Bank", "0.0250"),
)


@dataclass(frozen=True)
class ProductDef:
    code: str
    name: str
    name_zh: str
    line: str
    term_months: int
    renewable: bool
    frequencies: tuple[str, ...]
    first_year_rate: str
    renewal_rate: str
    bank_share: str
    grace_days: int
    cooling_off_days: int
    callback: bool
    #: sums insured offered (for annuities: the annual premium)
    sums_insured: tuple[int, ...]
    #: annual premium = sum insured × (rate_base + rate_per_age × age), at least ``min_premium``
    rate_base: float
    rate_per_age: float
    min_premium: int
    #: person, vehicle (persons who own a car) or organisation
    audience: str
    min_age: int = 18
    max_age: int = 65
    description: str = ""


PRODUCTS = (
    ProductDef("LI-TERM20", "Term Life 20", "定期寿险(20年)", "life", 240, False, ("annual",), "0.3500", "0.0500",
               "0.0400", 60, 15, True, (200_000, 300_000, 500_000, 1_000_000), 0.0012, 0.00011, 600, "person",
               18, 55, "Level term cover for 20 years, premiums paid yearly."),
    ProductDef("LI-CI20", "Critical Illness 20-Pay", "重大疾病保险(20年交)", "life", 240, False, ("annual",),
               "0.4000", "0.0600", "0.0400", 60, 15, True, (100_000, 200_000, 300_000, 500_000), 0.008, 0.0006,
               1500, "person", 18, 55, "Lump sum on diagnosis of a covered critical illness; 20 yearly premiums."),
    ProductDef("HE-MED1", "Million Medical", "百万医疗险", "health", 12, True, ("monthly", "annual"), "0.1500",
               "0.1000", "0.0500", 30, 15, False, (2_000_000, 3_000_000), 0.00005, 0.000006, 200, "person", 0, 65,
               "Hospital expenses up to the sum insured, yearly renewable."),
    ProductDef("HE-HOSP1", "Hospital Cash Plan", "住院津贴险", "health", 12, True, ("monthly", "annual"), "0.1800",
               "0.1200", "0.0500", 30, 15, False, (36_500, 73_000), 0.004, 0.0002, 120, "person", 0, 65,
               "A daily allowance while in hospital, yearly renewable."),
    ProductDef("AC-PA1", "Personal Accident", "个人意外伤害险", "accident", 12, True, ("monthly", "annual"),
               "0.2000", "0.1500", "0.0000", 30, 0, False, (100_000, 300_000, 500_000, 1_000_000), 0.0009,
               0.000005, 80, "person", 0, 70, "Accidental death, disability and medical expenses."),
    ProductDef("MO-CAR1", "Motor Comprehensive", "机动车综合险", "motor", 12, True, ("annual",), "0.0800",
               "0.0800", "0.0000", 15, 0, False, (300_000, 500_000, 1_000_000, 2_000_000), 0.004, 0.0, 1800,
               "vehicle", 20, 75, "Own damage and third-party liability for one vehicle."),
    ProductDef("PR-HOME1", "Home Building & Contents", "家庭财产险", "property", 12, True, ("annual",), "0.1500",
               "0.1200", "0.0300", 15, 0, False, (500_000, 1_000_000, 2_000_000, 3_000_000), 0.0004, 0.0, 200,
               "person", 22, 80, "Fire, water and theft cover for a home and its contents."),
    ProductDef("PR-SME1", "SME Property All Risks", "企业财产一切险", "property", 12, True, ("annual", "semiannual"),
               "0.1000", "0.0800", "0.0000", 30, 0, False, (2_000_000, 5_000_000, 10_000_000, 20_000_000), 0.0009,
               0.0, 1500, "organisation", 0, 200, "Premises, stock and equipment of a small business."),
    ProductDef("AC-GRP1", "Group Accident", "团体意外险", "accident", 12, True, ("annual",), "0.1200", "0.1000",
               "0.0000", 30, 0, False, (5_000_000, 10_000_000, 30_000_000), 0.0003, 0.0, 3000, "organisation",
               0, 200, "Accident cover for all employees of a company."),
    ProductDef("AN-EDU10", "Education Annuity 10", "教育年金(10年)", "annuity", 120, False, ("annual",), "0.1200",
               "0.0300", "0.0300", 60, 15, True, (10_000, 20_000, 30_000, 50_000), 0.0, 0.0, 10_000, "person",
               25, 50, "Ten yearly premiums that fund a child's education payments."),
    ProductDef("AN-RET10", "Retirement Annuity 10", "养老年金(10年)", "annuity", 120, False, ("annual", "single"),
               "0.1000", "0.0200", "0.0300", 60, 15, True, (12_000, 24_000, 50_000, 100_000), 0.0, 0.0, 12_000,
               "person", 30, 62, "A pension from 60, funded by ten yearly premiums or one single premium."),
)

#: how each channel's customers choose products (code → weight)
CHANNEL_PRODUCT_WEIGHTS = {
    "agency": {"LI-TERM20": 12, "LI-CI20": 15, "HE-MED1": 18, "HE-HOSP1": 7, "AC-PA1": 13, "MO-CAR1": 15,
               "PR-HOME1": 8, "AN-EDU10": 6, "AN-RET10": 6},
    "bancassurance": {"LI-CI20": 15, "LI-TERM20": 8, "AN-EDU10": 25, "AN-RET10": 35, "HE-MED1": 10, "PR-HOME1": 7},
    "telesales": {"HE-MED1": 35, "AC-PA1": 35, "HE-HOSP1": 15, "MO-CAR1": 15},
    "direct": {"MO-CAR1": 35, "HE-MED1": 20, "AC-PA1": 20, "PR-HOME1": 15, "LI-TERM20": 10},
}
ORGANISATION_PRODUCTS = {"PR-SME1": 50, "AC-GRP1": 35, "MO-CAR1": 15}

#: (occupation, industry, income band weights low..high)
OCCUPATIONS = (
    ("office worker", "services", (10, 30, 40, 15, 5)),
    ("teacher", "education", (5, 30, 45, 15, 5)),
    ("doctor", "healthcare", (0, 5, 30, 40, 25)),
    ("nurse", "healthcare", (5, 35, 45, 12, 3)),
    ("software engineer", "information technology", (0, 5, 30, 40, 25)),
    ("civil servant", "public administration", (0, 20, 50, 25, 5)),
    ("sales representative", "retail", (15, 35, 35, 10, 5)),
    ("business owner", "trade", (5, 10, 25, 30, 30)),
    ("accountant", "finance", (0, 15, 45, 30, 10)),
    ("bank clerk", "finance", (0, 20, 50, 25, 5)),
    ("driver", "transport", (25, 45, 25, 5, 0)),
    ("construction worker", "construction", (40, 45, 13, 2, 0)),
    ("factory worker", "manufacturing", (35, 45, 18, 2, 0)),
    ("chef", "hospitality", (20, 45, 30, 5, 0)),
    ("lawyer", "legal services", (0, 5, 25, 40, 30)),
    ("farmer", "agriculture", (50, 35, 13, 2, 0)),
    ("self-employed", "trade", (15, 25, 35, 15, 10)),
    ("homemaker", "none", (30, 30, 25, 10, 5)),
    ("retired", "none", (30, 35, 25, 8, 2)),
)
OCCUPATION_WEIGHTS = (14, 7, 4, 5, 7, 5, 8, 5, 5, 4, 5, 4, 6, 3, 2, 3, 7, 4, 0)
INCOME_BANDS = ("low", "lower_middle", "middle", "upper_middle", "high")
ORGANISATION_INDUSTRIES = ("manufacturing", "retail", "logistics", "hospitality", "information technology",
                           "construction", "healthcare")

MOBILE_PREFIXES = ("130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
                   "153", "155", "156", "157", "158", "159", "166", "175", "176", "177", "178", "180", "181",
                   "182", "183", "184", "185", "186", "187", "188", "189", "191", "193", "195", "198", "199")

ACQUISITION_SOURCES = {
    "agency": ("referral by an existing customer", "community event", "agent's personal network", "cold visit"),
    "bancassurance": ("bank branch referral",),
    "telesales": ("outbound call list", "inbound hotline"),
    "direct": ("company website", "WeChat mini program", "walk-in at branch counter"),
}

CANCELLATION_REASONS = ("Customer request: no longer needed", "Financial difficulty", "Moved abroad",
                        "Replaced by another insurer's policy", "Vehicle sold", "Dissatisfied with service")
COOLING_OFF_REASON = "Cancelled within the cooling-off period at the customer's request"
LAPSE_REASON = "Premium unpaid at the end of the grace period"
REINSTATEMENT_REASON = "Arrears paid and health declaration accepted"
CLAIM_REJECTION_REASONS = ("Pre-existing condition not declared", "Loss outside the period of cover",
                           "Excluded cause of loss", "Insufficient documentation after three requests",
                           "Waiting period not completed")
LOST_RENEWAL_NOTES = {"price": "Found a cheaper quote elsewhere", "competitor": "Moved to a competitor's bundle",
                      "service": "Unhappy with claim handling", "moved_away": "Relocated to another province",
                      "deceased": "Policyholder deceased", "other": "No longer needs the cover"}

COMPETITORS = ("Sunrise Life", "Great Harbour Insurance", "Jade Mountain Mutual", "Pacific Crest Assurance",
               "Golden Bridge Insurance")
SWOT = {
    "strengths": ("Lower first-year premium", "Strong brand in the province", "Bundles with the customer's bank",
                  "Fast online claims"),
    "weaknesses": ("Narrower hospital network", "Slow claim settlement", "Limited agent presence",
                   "Fewer riders available"),
    "opportunities": ("Customer values our claim service", "We already insure the spouse",
                      "Renewal date is approaching", "Employer scheme being renegotiated"),
    "threats": ("Aggressive discounting", "Relationship with the customer's bank manager",
                "Customer's relative works there", "Price comparison on WeChat"),
}
INFLUENCER_TITLES = {"coach": ("Friend of the family", "Colleague", "Bank relationship manager"),
                     "user": ("Spouse", "Insured child's parent", "Employee representative"),
                     "technical_buyer": ("Family doctor", "Finance manager", "HR manager"),
                     "economic_buyer": ("Head of household", "General manager", "Owner")}
OPPORTUNITY_LOST_REASONS = ("Chose a competitor's cheaper plan", "Budget postponed to next year",
                            "Failed underwriting", "No longer interested", "Could not reach the decision maker")
OPPORTUNITY_WON_REASONS = ("Signed after the proposal review", "Trusted the agent's advice",
                           "Best value for the cover")

INTERACTION_TOPICS = (
    ("Annual policy review", "reviewed cover; no changes"),
    ("Renewal reminder", "customer will renew"),
    ("Premium payment reminder", "payment promised"),
    ("Explained the claim process", "documents sent"),
    ("Birthday greeting", "thanked us"),
    ("Asked about adding a family member", "quote requested"),
    ("Cross-sell: medical cover", "interested"),
    ("Cross-sell: accident cover", "not interested"),
    ("Updated contact details", "updated"),
    ("Follow-up on a service request", "resolved"),
    ("Holiday greeting", "no reply"),
    ("Courtesy call after a claim payment", "satisfied"),
)
CHANNEL_COSTS = {"visit": (30, 150), "phone": (1, 3), "sms": (0.05, 0.1), "email": (0, 0), "messaging": (0, 0),
                 "branch_counter": (10, 40), "call_centre": (2, 6), "web": (0, 0)}

SERVICE_SUBJECTS = {
    "policy_change": "Change of sum insured requested",
    "beneficiary_change": "Change of beneficiary",
    "contact_update": "New address and phone",
    "payment": "Change of debit account",
    "claim": "Claim documents query",
    "cancellation": "Enquiry about cancelling a policy",
    "enquiry": "Question about cover for overseas travel",
    "sales_practice": "Agent did not explain the exclusions",
    "other": "Request for a duplicate policy document",
}
COMPLAINT_CATEGORIES = ("sales_practice", "claim", "payment", "other")
SERVICE_CATEGORIES = ("policy_change", "beneficiary_change", "contact_update", "payment", "enquiry", "cancellation")
SLA_HOURS = {"low": 240, "normal": 120, "high": 72, "urgent": 24}
RESOLUTIONS = ("Completed as requested", "Explained the policy terms; customer satisfied",
               "Goodwill payment made", "Documents re-sent", "Apology and agent retrained")

ACTIVITY_SUBJECTS = {
    "call": "Call to discuss needs", "visit": "Home visit", "meeting": "Meeting at the branch",
    "presentation": "Present the proposal", "email": "Send the illustration by email",
    "callback": "New-policy callback (新单回访)", "other": "Prepare documents",
}
ACTIVITY_EVALUATIONS = ("Good rapport; customer engaged", "Customer hesitant about price",
                        "Decision maker absent; reschedule", "Clear next step agreed")
