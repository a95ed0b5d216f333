"""The names shown for stored codes (product lines, statuses, job names, count keys, ...), in the reader's language.

Every label is a *lazy* string (``lazy_gettext``): the dictionaries below are built once per process, but each
label is translated when a page prints it, so the same process serves English and Chinese readers side by side.
Templates must not build such dictionaries with ``_()`` in a file imported without context (``{% from "x" import
y %}``): Jinja keeps such a module for the life of the process, with the strings of whichever language rendered
it first. They use the registry instead: ``{{ product.line|label("product_line") }}``, or ``labels.product_line``
to list the choices of a form.

The codes are plain strings (an ``enum.StrEnum`` member looks up the same entry), so this module imports no
domain package; ``tests/test_labels.py`` checks that every value of every enumeration, every registered daily
job and every count a job reports has its label here.
"""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

Labels = dict[str, LazyString]

YES_NO: Labels = {"true": _l("Yes"), "false": _l("No")}
#: languages of messages, templates and policyholders, named in the reader's language (the language switch
#: names each in its own: insurecrm.i18n.LANGUAGES)
LANGUAGE: Labels = {"en": _l("English"), "zh": _l("Chinese (Simplified)")}

# -- the organisation, agents and bank partners ------------------------------------------------------------
ORG_KIND: Labels = {"company": _l("Company"), "branch": _l("Branch"), "sub_branch": _l("Sub-branch"),
                    "team": _l("Team")}
SALES_CHANNEL: Labels = {"agency": _l("Agency"), "bancassurance": _l("Bancassurance"), "direct": _l("Direct"),
                         "telesales": _l("Telesales")}
AGENT_STATUS: Labels = {"active": _l("Active"), "suspended": _l("Suspended"), "inactive": _l("Inactive")}
PARTNER_STATUS: Labels = {"active": _l("Active"), "suspended": _l("Suspended"), "ended": _l("Ended")}

# -- products ----------------------------------------------------------------------------------------------
PRODUCT_LINE: Labels = {"life": _l("Life"), "health": _l("Health"), "accident": _l("Accident"),
                        "property": _l("Property"), "motor": _l("Motor"), "annuity": _l("Annuity")}
FREQUENCY: Labels = {"single": _l("Single premium"), "annual": _l("Annual"), "semiannual": _l("Half-yearly"),
                     "quarterly": _l("Quarterly"), "monthly": _l("Monthly")}

# -- policyholders and their book (the policyholder pages) ---------------------------------------------------
HOLDER_STATUS: Labels = {"prospect": _l("Prospect"), "active": _l("Active"), "lapsed": _l("Lapsed"),
                         "former": _l("Former")}
PARTY_KIND: Labels = {"person": _l("Person"), "organisation": _l("Organisation")}
GENDER: Labels = {"female": _l("Female"), "male": _l("Male"), "other": _l("Other")}
ID_TYPE: Labels = {"prc_resident": _l("PRC resident ID"), "passport": _l("Passport"),
                   "hk_macau_permit": _l("Hong Kong/Macau permit"), "prc_uscc": _l("Unified social credit code"),
                   "other": _l("Other")}
CONTACT_CHANNEL: Labels = {"phone": _l("Phone"), "sms": _l("SMS"), "email": _l("Email"),
                           "messaging": _l("Messaging app"), "visit": _l("Visit"), "post": _l("Post")}
INCOME_BAND: Labels = {"low": _l("Low"), "lower_middle": _l("Lower middle"), "middle": _l("Middle"),
                       "upper_middle": _l("Upper middle"), "high": _l("High")}
AGE_BAND: Labels = {"under_25": _l("Under 25"), "25_34": _l("25 to 34"), "35_44": _l("35 to 44"),
                    "45_54": _l("45 to 54"), "55_64": _l("55 to 64"), "65_plus": _l("65 and over")}
MARITAL_STATUS: Labels = {"single": _l("Single"), "married": _l("Married"), "divorced": _l("Divorced"),
                          "widowed": _l("Widowed")}
#: the contribution × loyalty quadrants of the Segments report (reports.segments.QUADRANTS), a segment's filter
SEGMENT_QUADRANT: Labels = {"keep": _l("High contribution, loyal"), "cross_sell": _l("Low contribution, loyal"),
                            "secure": _l("High contribution, not loyal"),
                            "serve_cheaper": _l("Low contribution, not loyal")}
ACQUISITION_CHANNEL: Labels = {"agency": _l("Agency"), "bancassurance": _l("Bancassurance"), "direct": _l("Direct"),
                               "telesales": _l("Telesales"), "web": _l("Web"), "transfer_in": _l("Transfer-in")}
RELATIONSHIP_KIND: Labels = {"spouse": _l("spouse of"), "child": _l("child of"), "parent": _l("parent of"),
                             "sibling": _l("sibling of"), "employer": _l("employer of"),
                             "employee": _l("employee of"), "beneficiary": _l("beneficiary of"),
                             "other": _l("related to")}
INTERACTION_CHANNEL: Labels = {"visit": _l("Visit"), "phone": _l("Phone call"), "sms": _l("SMS"),
                               "email": _l("Email"), "messaging": _l("Messaging app"),
                               "branch_counter": _l("Branch counter"), "call_centre": _l("Call centre"),
                               "web": _l("Web")}
DIRECTION: Labels = {"inbound": _l("Inbound"), "outbound": _l("Outbound")}
SERVICE_KIND: Labels = {"service": _l("Service request"), "complaint": _l("Complaint")}
SERVICE_CATEGORY: Labels = {"policy_change": _l("Policy change"), "beneficiary_change": _l("Beneficiary change"),
                            "contact_update": _l("Contact update"), "payment": _l("Payment"), "claim": _l("Claim"),
                            "cancellation": _l("Cancellation"), "enquiry": _l("Enquiry"),
                            "sales_practice": _l("Sales practice"), "other": _l("Other")}
SERVICE_PRIORITY: Labels = {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")}
SERVICE_STATUS: Labels = {"open": _l("Open"), "in_progress": _l("In progress"), "resolved": _l("Resolved"),
                          "closed": _l("Closed")}
SLA: Labels = {"breached": _l("SLA breached"), "due_soon": _l("Due soon"), "on_track": _l("On track"),
               "finished": _l("Done")}
POLICY_STATUS: Labels = {"quoted": _l("Quoted"), "in_force": _l("In force"), "grace": _l("In grace"),
                         "lapsed": _l("Lapsed"), "reinstated": _l("Reinstated"), "cancelled": _l("Cancelled"),
                         "expired": _l("Expired"), "renewed": _l("Renewed"), "matured": _l("Matured"),
                         "terminated_by_claim": _l("Terminated by claim")}
CLAIM_KIND: Labels = {"death": _l("Death"), "total_disability": _l("Total and permanent disability"),
                      "medical": _l("Medical expenses"), "total_loss": _l("Total loss"), "damage": _l("Damage"),
                      "other": _l("Other")}
CLAIM_STATUS: Labels = {"reported": _l("Reported"), "under_review": _l("Under review"), "approved": _l("Approved"),
                        "rejected": _l("Rejected"), "paid": _l("Paid"), "closed": _l("Closed")}
PAYMENT_METHOD: Labels = {"bank_debit": _l("Bank debit"), "bank_transfer": _l("Bank transfer"), "card": _l("Card"),
                          "cash": _l("Cash"), "mobile": _l("Mobile payment")}
OPPORTUNITY_STATUS: Labels = {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")}
POLICYHOLDER_SORT: Labels = {"name": _l("Name"), "status": _l("Status"), "region": _l("Region"),
                             "created_at": _l("Created")}
AUDIT_ACTION: Labels = {"create": _l("Created"), "update": _l("Changed"), "delete": _l("Deleted"),
                        "reveal": _l("ID number revealed"), "merge": _l("Merged"), "unmerge": _l("Merge undone"),
                        "not_duplicate": _l("Not a duplicate")}

# -- imports ------------------------------------------------------------------------------------------------
IMPORT_KIND: Labels = {"policyholders": _l("Policyholders"), "policies": _l("Policies"),
                        "installments": _l("Installments"), "payments": _l("Payments"), "claims": _l("Claims")}
IMPORT_STATUS: Labels = {"queued": _l("Waiting"), "running": _l("Working"), "checked": _l("Checked: ready to import"),
                         "refused": _l("Refused: nothing written"), "imported": _l("Imported"),
                         "failed": _l("Failed: nothing written")}
IMPORT_MODE: Labels = {"check": _l("Dry run"), "import": _l("Import")}

# -- operations: daily jobs and the outbox -------------------------------------------------------------------
JOB_STATUS: Labels = {"succeeded": _l("Succeeded"), "failed": _l("Failed"), "skipped": _l("Skipped")}
#: each daily job (insurecrm.jobs registry) and each daily record (insurecrm.jobs.add_to_daily_record)
JOB: Labels = {
    "policies.open_renewal_cases": _l("Open renewal cases"),
    "policies.grace_and_lapse": _l("Grace, lapse and expiry"),
    "policies.remind_renewals": _l("Renewal reminders"),
    "policies.escalate_renewals": _l("Escalate renewals not contacted"),
    "policies.new_policy_callbacks": _l("New-policy callbacks"),
    "policyholders.birthday_greetings": _l("Birthday greetings"),
    "policyholders.key_customer_callbacks": _l("Key-customer service calls"),
    "agents.stale_opportunities": _l("Stale opportunities"),
    "agents.sales_reports": _l("Sales reports by email"),
    "reports.churn_scores": _l("Churn early warning scores"),
    "reports.refresh_figures": _l("Report figures (earned premium, claims, costs, contribution)"),
    "campaigns.run_due": _l("Campaign runs"),
    "outbox.send": _l("Outbox sender"),
}
CAMPAIGN_KIND: Labels = {"renewal": _l("Renewal"), "new_policy_callback": _l("New-policy callback"),
                         "birthday": _l("Birthday care"), "holiday_care": _l("Holiday care"),
                         "cross_sell": _l("Cross-sell"), "reactivation": _l("Reactivation"), "custom": _l("Custom")}
CAMPAIGN_CHANNEL: Labels = {"email": _l("Email"), "sms": _l("SMS"), "agent_task": _l("Agent's call (a task)")}
CAMPAIGN_STATUS: Labels = {"draft": _l("Draft"), "active": _l("Active"), "paused": _l("Paused"),
                           "ended": _l("Ended")}
CAMPAIGN_SCHEDULE: Labels = {"once": _l("Once, on the start date"), "daily": _l("Every day"),
                             "holidays": _l("On the holidays of the calendar")}
MEMBER_OUTCOME: Labels = {"control": _l("Held out (control group)"), "sent": _l("Message sent"),
                          "task": _l("Call for the agent"), "no_consent": _l("No consent or contact"),
                          "over_cap": _l("Over the weekly cap"), "over_budget": _l("Over the budget")}
RUN_STATUS: Labels = {"running": _l("Running"), "done": _l("Done"), "failed": _l("Failed")}
#: what a job run reports it did (the keys of ``JobRun.counts``)
JOB_COUNT: Labels = {
    "cases_opened": _l("cases opened"), "reminders_queued": _l("reminders queued"),
    "reminder_tasks": _l("reminder calls for agents"), "tasks_queued": _l("tasks queued"),
    "escalations": _l("escalations"), "to_grace": _l("into grace"), "lapses": _l("lapses"),
    "expired": _l("expired"), "renewed": _l("renewed"), "matured": _l("matured"),
    "cases_closed": _l("renewal cases closed"), "callbacks_planned": _l("callbacks planned"),
    "greetings_queued": _l("greetings queued"), "key_customer_calls": _l("key-customer calls planned"),
    "sent": _l("sent"), "failed": _l("failed"), "retrying": _l("retrying"), "uncertain": _l("uncertain"),
    "reminders_skipped": _l("reminders skipped (too late)"), "greetings_skipped": _l("greetings skipped (too late)"),
    "back_in_force": _l("back in force"), "skipped": _l("skipped (too late)"),
    "paused": _l("campaign not active: nothing queued"),
    "reminders_withheld": _l("reminders not sent (campaign not active)"),
    "greetings_withheld": _l("greetings not sent (campaign not active)"),
    "holders_scored": _l("policyholders scored"), "holders_at_risk": _l("policyholders at risk of leaving"),
    "holders_already_scored": _l("policyholders already scored by an interrupted run"),
    "churn_scores_removed": _l("scores of former policyholders removed"),
    "holders_refreshed": _l("policyholders' figures recomputed"),
    "policies_refreshed": _l("policies' figures recomputed"), "full_refresh": _l("full refresh (a new period)"),
    "stale_tasks": _l("stale-opportunity tasks for owners"),
    "stale_escalations": _l("stale opportunities escalated to managers"),
    "sales_reports_queued": _l("sales reports queued"),
    "sales_reports_skipped": _l("daily sales reports skipped (too late)"),
    "sales_reports_without_email": _l("sales reports not sent (the manager has no email)"),
    "campaign_runs": _l("campaign runs"), "campaigns_refused": _l("campaigns that could not run"),
    "stopped_campaign_tasks": _l("tasks to hand over a campaign whose owner left"),
    "members_control": _l("members held out (control group)"), "members_sent": _l("campaign messages queued"),
    "members_task": _l("campaign calls for agents"), "members_no_consent": _l("members without consent or contact"),
    "members_over_cap": _l("members over the weekly cap"), "members_over_budget": _l("members over the budget"),
}
OUTBOX_STATUS: Labels = {"pending": _l("Pending"), "sending": _l("Sending"), "sent": _l("Sent"),
                         "failed": _l("Failed"), "skipped": _l("Skipped: not to be sent"),
                         "uncertain": _l("Uncertain: needs a human")}
OUTBOX_CHANNEL: Labels = {"email": _l("Email"), "sms": _l("SMS"), "task": _l("Agent task")}
#: kinds of messages and tasks (outbox rows and message templates)
MESSAGE_KIND: Labels = {
    "renewal_reminder": _l("Renewal reminder"), "renewal_escalation": _l("Renewal escalation"),
    "birthday": _l("Birthday greeting"), "sales_report": _l("Sales report"),
    "generic": _l("Generic message (any kind without a template)"),
}

# -- who did something: system actors of the audit log and status history -------------------------------------
SYSTEM_ACTOR: Labels = {
    "system": _l("System"),
    "cli:demo": _l("Demo book loader"),
    "cli:users.create": _l("Command line: create a user"),
    "cli:outbox.send": _l("Command line: send the outbox"),
    "cli:simulate": _l("Simulation"),
    "scheduler:outbox.send": _l("Scheduler: outbox sender"),
    "unsubscribe:link": _l("The policyholder, by the unsubscribe link"),
    "unsubscribe:keyword": _l("The policyholder, by an opt-out keyword"),
    "inbound:sms": _l("Inbound SMS"),
    "inbound:email": _l("Inbound email"),
}

# -- the audit timeline of a policyholder: the audited fields and the labels of their values ---------------------
FIELD: Labels = {
    "name": _l("Name"), "kind": _l("Kind"), "gender": _l("Gender"), "date_of_birth": _l("Date of birth"),
    "id_type": _l("ID type"), "id_number": _l("ID number"), "phone": _l("Phone"), "phone_alt": _l("Other phone"),
    "email": _l("Email"), "address": _l("Address"), "region": _l("Region"), "occupation": _l("Occupation"),
    "industry": _l("Industry"), "income_band": _l("Income band"), "marital_status": _l("Marital status"),
    "preferred_channel": _l("Preferred channel"), "preferred_language": _l("Preferred language"),
    "consent_marketing": _l("Marketing consent"), "consent_sms": _l("SMS consent"),
    "consent_email": _l("Email consent"), "owner_agent_id": _l("Owner agent"), "org_unit_id": _l("Unit"),
    "acquisition_channel": _l("Acquired through"), "status": _l("Status"), "number": _l("Number"),
    "product_id": _l("Product"), "servicing_agent_id": _l("Servicing agent"), "channel": _l("Channel"),
    "business_type": _l("Business type"), "effective_date": _l("Effective date"), "expiry_date": _l("Expiry"),
    "sum_insured": _l("Sum insured"), "premium": _l("Premium"), "frequency": _l("Frequency"),
    "status_date": _l("Status date"), "cancellation_reason": _l("Cancellation reason"),
    "merge_id": _l("Merge"), "survivor_id": _l("Kept record"), "merged_id": _l("Merged record"),
    "moved": _l("Rows moved"), "dropped": _l("Rows dropped"), "not_a_duplicate_of": _l("Not a duplicate of"),
}
#: per audited table, the label set naming each coded field's values
FIELD_VALUES: dict[str, dict[str, str]] = {
    "policyholders": {"kind": "party_kind", "gender": "gender", "id_type": "id_type", "income_band": "income_band",
                      "marital_status": "marital_status", "preferred_channel": "contact_channel",
                      "preferred_language": "language", "acquisition_channel": "acquisition_channel",
                      "status": "holder_status"},
    "policies": {"status": "policy_status", "frequency": "frequency", "channel": "sales_channel"},
}

LABELS: dict[str, Labels] = {
    "campaign_kind": CAMPAIGN_KIND, "campaign_channel": CAMPAIGN_CHANNEL, "campaign_status": CAMPAIGN_STATUS,
    "campaign_schedule": CAMPAIGN_SCHEDULE, "member_outcome": MEMBER_OUTCOME, "run_status": RUN_STATUS,
    "import_kind": IMPORT_KIND, "import_status": IMPORT_STATUS, "import_mode": IMPORT_MODE,
    "yes_no": YES_NO, "language": LANGUAGE, "org_kind": ORG_KIND, "sales_channel": SALES_CHANNEL,
    "agent_status": AGENT_STATUS, "partner_status": PARTNER_STATUS, "product_line": PRODUCT_LINE,
    "frequency": FREQUENCY, "job_status": JOB_STATUS, "job": JOB,
    "job_count": JOB_COUNT, "outbox_status": OUTBOX_STATUS, "outbox_channel": OUTBOX_CHANNEL,
    "message_kind": MESSAGE_KIND, "system_actor": SYSTEM_ACTOR,
    "holder_status": HOLDER_STATUS, "party_kind": PARTY_KIND, "gender": GENDER, "id_type": ID_TYPE,
    "contact_channel": CONTACT_CHANNEL, "income_band": INCOME_BAND, "age_band": AGE_BAND,
    "marital_status": MARITAL_STATUS, "segment_quadrant": SEGMENT_QUADRANT,
    "acquisition_channel": ACQUISITION_CHANNEL, "relationship_kind": RELATIONSHIP_KIND,
    "interaction_channel": INTERACTION_CHANNEL, "direction": DIRECTION, "service_kind": SERVICE_KIND,
    "service_category": SERVICE_CATEGORY, "service_priority": SERVICE_PRIORITY, "service_status": SERVICE_STATUS,
    "sla": SLA, "policy_status": POLICY_STATUS, "claim_status": CLAIM_STATUS,
    "claim_kind": CLAIM_KIND, "payment_method": PAYMENT_METHOD,
    "opportunity_status": OPPORTUNITY_STATUS, "audit_action": AUDIT_ACTION, "policyholder_sort": POLICYHOLDER_SORT,
    "field": FIELD,
}


def label(code, kind: str) -> str:
    """The label of ``code`` among the ``kind`` labels, in the current language; "—" for no code. A code
    without a label (a message kind an admin typed, a value newer than this catalogue) is shown as it is."""
    if code is None or code == "":
        return "—"
    if isinstance(code, bool):
        code = "true" if code else "false"
    value = str(getattr(code, "value", code))
    text = LABELS[kind].get(value)
    return value if text is None else str(text)


def audit_value(entity_type: str, field: str, value) -> str:
    """A value of the audit log's ``{"field": [before, after]}`` for a reader: a code by its label, yes/no for a
    flag, "—" for none, anything else as recorded."""
    if isinstance(value, bool):
        return label(value, "yes_no")
    kind = FIELD_VALUES.get(entity_type, {}).get(field)
    if kind is not None or value is None:
        return label(value, kind or "yes_no")
    return str(value)


def actor_display(actor_label: str | None) -> str:
    """Who made a change, for a reader: a person's username as it is, a system actor by its label ("Demo book
    loader", "Daily job: Renewal reminders") — never its code (``cli:demo``, ``job:policies.remind_renewals``)."""
    if not actor_label:
        return str(SYSTEM_ACTOR["system"])
    if actor_label in SYSTEM_ACTOR:
        return str(SYSTEM_ACTOR[actor_label])
    if actor_label.startswith("job:"):
        return gettext("Daily job: %(job)s", job=label(actor_label.removeprefix("job:"), "job"))
    if actor_label.startswith("scheduler:"):
        return gettext("Scheduler: %(job)s", job=label(actor_label.removeprefix("scheduler:"), "job"))
    if actor_label.startswith("cli:"):
        return gettext("Command line: %(command)s", command=actor_label.removeprefix("cli:"))
    if actor_label.startswith("import:"):
        return gettext("Import %(number)s", number=actor_label.removeprefix("import:"))
    return actor_label


def init_app(app) -> None:
    app.jinja_env.filters.update(label=label, actor=actor_display)
    app.jinja_env.globals.update(labels=LABELS, audit_value=audit_value)
