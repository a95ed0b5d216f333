"""Labels follow the reader's language request by request, and no page shows a raw code where a label belongs.

Each page is rendered in one process in English then Chinese, and in Chinese then English, starting from an
empty template cache as a fresh process does: a label computed once per process (a Jinja module imported without
context that calls ``_()``, a dictionary of already translated strings) shows the first reader's language to the
second and fails here. The catalogue of insurecrm/labels.py is checked against every enumeration it labels, every
registered daily job, every count a job reports and every system actor the code acts as.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from agents.models import AgentChannel, AgentStatus, OrgUnitKind, PartnerStatus
from insurecrm import clock, jobs, labels
from insurecrm.actor import acting_as
from insurecrm.db import utcnow
from insurecrm.models import JobRun, JobRunStatus, Outbox, OutboxChannel, OutboxStatus, Role
from policies import status as policy_status
from policies.models import PolicyStatus, PremiumFrequency, ProductLine, RenewalCase, RenewalStatus
from policyholders.models import Gender, PolicyholderStatus

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)  # noon in Shanghai


@pytest.fixture
def world(make, session):
    """A little of everything the admin, operations, policyholder, policy and renewal pages label."""
    company = make.org_unit(name="总公司")
    team = make.org_unit(company, name="一组", kind=OrgUnitKind.TEAM)
    agent = make.agent(team, name="王强")
    make.agent(team, name="赵六", channel=AgentChannel.BANCASSURANCE, status=AgentStatus.SUSPENDED)
    make.bank_partner(name="海港银行", status=PartnerStatus.ENDED)
    product = make.product(name="安康", line=ProductLine.LIFE, frequencies=["semiannual"])
    with acting_as("cli:demo"):
        holder = make.policyholder(agent, name="李娜", gender=Gender.FEMALE, preferred_language="en",
                                   status=PolicyholderStatus.PROSPECT)
        session.flush()
    policy = make.policy(holder, product, frequency=PremiumFrequency.SEMIANNUAL, premium=Decimal("600.00"),
                         effective_date=TODAY - timedelta(days=340))
    session.flush()
    with acting_as("job:policies.grace_and_lapse"):
        policy_status.transition(policy, PolicyStatus.GRACE, effective_date=TODAY - timedelta(days=10))
    session.add(RenewalCase(policy_id=policy.id, due_date=policy.expiry_date, opened_on=TODAY - timedelta(days=30),
                            assigned_agent_id=agent.id, org_unit_id=policy.org_unit_id, status=RenewalStatus.OPEN))
    session.add(JobRun(job_id="policies.grace_and_lapse", logical_date=TODAY, status=JobRunStatus.SUCCEEDED,
                       started_at=utcnow(), counts={"to_grace": 1, "lapses": 0}))
    session.add(JobRun(job_id="policyholders.key_customer_callbacks", logical_date=TODAY,
                       status=JobRunStatus.SUCCEEDED, started_at=utcnow(), counts={"key_customer_calls": 2}))
    session.add(Outbox(idempotency_key="label-test", kind="renewal_reminder", channel=OutboxChannel.EMAIL,
                       recipient="li.na@example.com", language="en", status=OutboxStatus.PENDING))
    session.commit()
    return SimpleNamespace(
        holder=holder, policy=policy, admin=make.user(Role.ADMIN),
        agent=make.user(Role.AGENT, agent_id=agent.id), manager=make.user(Role.BRANCH_MANAGER, org_unit_id=team.id))


#: (who, path, English labels, their Chinese, raw codes never shown as text)
PAGES = {
    "admin": ("admin", "/admin", ["Users and roles", "Bank branches"], ["用户与角色", "银行网点"], []),
    "products": ("admin", "/admin/products", [">Life<", "Half-yearly"], [">寿险<", "半年交"], [">life<"]),
    "agents": ("admin", "/admin/agents", [">Bancassurance<", ">Suspended<"], [">银保<", ">暂停<"], [">suspended<"]),
    "org units": ("admin", "/admin/org-units", [">Team<"], [">团队<"], [">team<"]),
    "bank partners": ("admin", "/admin/bank-partners", [">Ended<"], [">已终止<"], [">ended<"]),
    "new user": ("admin", "/admin/users/new", ["Chinese (Simplified)</option>"], [">英语</option>"], []),
    "job runs": ("admin", "/admin/ops/jobs", ["Grace, lapse and expiry", "key-customer calls planned", "into grace"],
                 ["宽限、失效与满期", "已安排重点客户回访", "进入宽限期"],
                 [">policies.grace_and_lapse<", "key_customer_calls", "to_grace"]),
    "outbox": ("admin", "/admin/ops/outbox", ["Renewal reminder</th>", "· English</td>", "Uncertain: needs a human"],
               ["续保提醒</th>", "· 英语</td>"], [">renewal_reminder<", "· en<"]),
    "templates": ("admin", "/admin/ops/templates", ["Renewal escalation", "<td>English</td>"],
                  ["续保升级", "<td>英语</td>"], [">renewal_escalation<", "<td>en</td>"]),
    "policyholders": ("agent", "/policyholders", ["Prospect"], ["准客户"], [">prospect<"]),
    "policyholder": ("admin", "/policyholders/{holder}",
                     ["Female", "<dd>English</dd>", "Demo book loader", "Gender: — → Female", "Status: — → Prospect"],
                     ["女", "<dd>英语</dd>", "演示数据加载程序", "性别: — → 女", "状态: — → 准客户"],
                     ["cli:demo", "<dd>en</dd>", "<code>gender</code>", "→ female", "→ prospect"]),
    "policy": ("admin", "/policies/{policy}", ["Daily job: Grace, lapse and expiry"], ["每日任务：宽限、失效与满期"],
               ["job:policies.grace_and_lapse"]),
    "worklist": ("agent", "/renewals", ["Still to work", "Half-yearly"], ["半年交"], []),
    "board": ("manager", "/renewals/board", ["Not contacted", "How is each number computed?"],
              ["每个数字是如何计算的？"], ["docs/metrics.md"]),
    "dashboard": ("manager", "/dashboard", ["How is this computed?"], ["这是如何计算的？"], []),
    "my day": ("agent", "/my-day", ["My day", "<td>Open</td>"], ["今日工作", "<td>待处理</td>"], ["<td>open</td>"]),
    "help": ("agent", "/help", ["How the figures are computed", "Renewal rate by count"],
             ["数字的计算方法", "续保率"], []),
}


def rendered(client, path: str, language: str) -> str:
    with client.session_transaction() as session:
        session["lang"] = language
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


@pytest.mark.parametrize("first", ["en", "zh"])
@pytest.mark.parametrize("name", list(PAGES))
def test_the_same_page_in_english_and_chinese_in_one_process(app, web, world, name, first):
    who, path, english, chinese, raw = PAGES[name]
    client = web(getattr(world, who))
    path = path.format(holder=world.holder.id, policy=world.policy.id)
    app.jinja_env.cache.clear()  # as in a fresh process: no template loaded, no module imported yet
    with clock.frozen(NOW):
        for language in (first, "zh" if first == "en" else "en"):
            html = rendered(client, path, language)
            wanted, other = (english, chinese) if language == "en" else (chinese, english)
            assert [text for text in wanted if text not in html] == [], f"{name} in {language}"
            assert [text for text in other if text in html] == [], f"{name} in {language} shows the other language"
            assert [code for code in raw if code in html] == [], f"{name} in {language} shows raw codes"


# -- the catalogue covers every code -------------------------------------------------------------------------

ENUM_LABELS = [
    ("org_kind", OrgUnitKind), ("sales_channel", AgentChannel), ("agent_status", AgentStatus),
    ("partner_status", PartnerStatus), ("product_line", ProductLine), ("frequency", PremiumFrequency),
    ("job_status", JobRunStatus), ("outbox_status", OutboxStatus), ("outbox_channel", OutboxChannel),
    ("holder_status", PolicyholderStatus), ("gender", Gender), ("policy_status", PolicyStatus),
]


@pytest.mark.parametrize(("kind", "enum"), ENUM_LABELS, ids=[kind for kind, _enum in ENUM_LABELS])
def test_every_value_of_an_enumeration_has_its_label(kind, enum):
    assert {member.value for member in enum} <= set(labels.LABELS[kind])


def test_the_policyholder_labels_cover_their_enumerations():
    from policies.models import ClaimStatus, PaymentMethod
    from policyholders import models as holders

    for kind, enum in [("party_kind", holders.PartyKind), ("id_type", holders.IdType),
                       ("contact_channel", holders.ContactChannel), ("income_band", holders.IncomeBand),
                       ("marital_status", holders.MaritalStatus), ("acquisition_channel", holders.AcquisitionChannel),
                       ("relationship_kind", holders.RelationshipKind),
                       ("interaction_channel", holders.InteractionChannel), ("direction", holders.Direction),
                       ("service_kind", holders.ServiceKind), ("service_category", holders.ServiceCategory),
                       ("service_priority", holders.ServicePriority), ("service_status", holders.ServiceStatus),
                       ("claim_status", ClaimStatus), ("payment_method", PaymentMethod)]:
        assert {member.value for member in enum} <= set(labels.LABELS[kind]), kind


def test_every_daily_job_has_a_label(app):
    assert [job.id for job in jobs.registered() if job.id not in labels.JOB] == []
    assert "outbox.send" in labels.JOB  # the outbox sender's daily record (insurecrm.outbox.sender)


def test_every_count_a_job_reports_has_a_label(app, make, session):
    """Run every daily job (and the outbox sender) and look at the keys of what they report."""
    from insurecrm.outbox import sender

    make.policy(make.policyholder(), effective_date=TODAY - timedelta(days=340))
    session.commit()
    with clock.frozen(NOW):
        runs = jobs.catch_up(TODAY)
        reported = {key for run in runs for key in run.counts} | set(sender.send_pending())
    assert {run.job_id for run in runs} == {job.id for job in jobs.registered()}
    assert sorted(reported - set(labels.JOB_COUNT)) == []


def test_every_system_actor_in_the_code_has_a_label():
    """``acting_as("...")`` anywhere in the code names an actor the audit and status history show by its label."""
    sources = [path for package in ("insurecrm", "agents", "policies", "policyholders", "reports")
               for path in (ROOT / package).rglob("*.py")]
    actors = {match for path in sources for match in re.findall(r'acting_as\("([^"]+)"\)', path.read_text())}
    assert "cli:demo" in actors

    def labelled(actor: str) -> bool:
        kind, _sep, name = actor.partition(":")
        return actor in labels.SYSTEM_ACTOR or kind in ("job", "scheduler") and name in labels.JOB

    assert sorted(actor for actor in actors if not labelled(actor)) == []
    # a job acts as "job:<id>" (insurecrm.jobs.run_job): shown by the job's label
    assert all(labelled(f"job:{job.id}") for job in jobs.registered())


def test_a_person_is_shown_by_username_and_an_unknown_system_actor_by_its_kind(app):
    with app.test_request_context():
        assert labels.actor_display("agent7") == "agent7"
        assert labels.actor_display("job:policies.remind_renewals") == "Daily job: Renewal reminders"
        assert labels.actor_display(None) == "System"


def test_no_label_module_translates_at_import():
    """A _labels.html imported without context is kept for the life of the process: _() there would freeze the
    first reader's language."""
    modules = list(ROOT.glob("**/templates/**/_labels.html"))
    assert modules
    code = {path: re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S) for path in modules}  # not the comments
    assert [str(path) for path, text in code.items() if re.search(r"\b(_|gettext|ngettext)\(", text)] == []
