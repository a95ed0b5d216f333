"""Issue 12 in a real browser: a branch manager, through pages alone, builds a segment of the loyal low contributors
of their branch, sends them a cross-sell SMS campaign with a 10% control group, sees the replies arrive on the
timelines and the campaign's uplift once conversions come in.

Only the book and the outside world are the test's own doing, written straight into the server's database with the
factories (tests/factories.py) or sent as a gateway sends them:

- **The book.** A branch of its own (so that the manager's scope, and the median contribution the quadrants split
  at, hold only what the test made), with a manager and an agent, and 30 policyholders with phones, SMS and marketing
  consent, placed in the contribution × loyalty quadrants (reports/segments.py) on purpose: loyalty is 25 points for
  a first policy over ten years old and 30 for installments paid on time (reports/loyalty.py), so a policyholder is
  loyal (50 and over) with both; contribution is the premium earned in the last twelve months, so it is 0 but for
  those with a paid installment covering part of them. 20 loyal with nothing earned are the loyal low contributors
  (cross-sell); 4 loyal who earned (keep), 3 who earned without the old policy (secure), 3 with neither (lower the
  cost of serving); the median is 0, so "high" is anything earned. Three loyal low contributors of another branch
  must never appear. The factories run in a child process (``python -m tests.browser.test_campaign_journey``): the
  test process's own database handle belongs to the other tests of its worker.
- **The SMS gateway's replies.** Signed ``POST /api/v1/inbound/sms``, as tests/inbound signs them, to a second
  server process over the same database, started with ``INSURECRM_INBOUND_SMS_SECRET`` (the shared live server of
  tests/browser/conftest.py has no webhook secret: its webhook is off, as it should be by default).
- **The conversions that come later.** New-business policies issued to five members who were sent the message,
  on the day they were touched, and one more 31 days after it (out of the 30-day window: it must not count); none
  for the control group.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from math import sqrt
from pathlib import Path
from statistics import NormalDist

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from playwright.sync_api import expect

from agents.models import OrgUnit
from insurecrm import clock, create_app
from insurecrm.db import db
from insurecrm.models import Role
from policies.models import BusinessType, Installment, InstallmentStatus, PolicyStatus, Product
from policyholders.messaging.routes import signature
from policyholders.models import Policyholder
from tests.browser.conftest import _free_port, _wait_until_up, login, shoot
from tests.factories import PASSWORD, Factory

#: where ``python -m tests.browser.test_campaign_journey`` is found
REPOSITORY = Path(__file__).resolve().parents[2]

SMS_SECRET = "browser-sms-gateway"
LOYAL_LOW, KEEP, SECURE, SERVE_CHEAPER, OTHER_BRANCH = 20, 4, 3, 3, 3
#: five sent members convert within the window (one more after it), none of the control group
CONVERTED = 5
BODY_EN = "Dear {{ policyholder_name }}, your loyalty earns you a family health plan at a member's price."
BODY_ZH = "{{ policyholder_name }}，您好！感谢您多年的信任，特为您准备了家庭健康保障方案。"
#: the members of the run: policyholder, outcome, the UTC day they were touched
RUN_MEMBERS = "SELECT policyholder_id, outcome, touched_at FROM campaign_members WHERE run_id = :run ORDER BY 1"


# -- the book and the conversions, written by the factories in a child process ------------------------------------

def _factories(database_url: str, command: str, argument: dict) -> dict:
    """Run :func:`build_book` or :func:`convert` in a child process over the server's database; its answer."""
    with tempfile.TemporaryDirectory() as instance:
        env = {**os.environ, "INSURECRM_DATABASE_URL": database_url, "INSURECRM_SECRET_KEY": "browser-tests",
               "INSURECRM_INSTANCE_PATH": instance}
        done = subprocess.run([sys.executable, "-m", "tests.browser.test_campaign_journey", command,
                               json.dumps(argument)], env=env, cwd=REPOSITORY, check=True, capture_output=True,
                              text=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


def build_book(make, argument: dict) -> dict:
    """The branch, its manager and agent, its 30 policyholders placed in the quadrants, and another branch's three
    loyal low contributors (see the module). Today is the server's: the real clock, in the insurer's time zone."""
    suffix, today = argument["suffix"], clock.today()
    company = make.session.scalar(sa.select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id))
    branch = make.org_unit(company, name=f"Campaign Branch {suffix}", code=f"CB{suffix}")
    other_branch = make.org_unit(company, name=f"Other Branch {suffix}", code=f"OB{suffix}")
    manager = make.user(Role.BRANCH_MANAGER, username=f"campaigns{suffix}", org_unit_id=branch.id)
    agent, other_agent = make.agent(branch), make.agent(other_branch)
    product = make.product(name=f"Campaign Health {suffix}")
    old_start, recent_start = today - relativedelta(years=11), today - timedelta(days=180)
    phones = iter(argument["phones"])

    def holder(owner, name: str, *, old: bool, earned: bool) -> dict:
        person = make.policyholder(owner, name=name, phone=next(phones), consent_sms=True, consent_marketing=True,
                                   preferred_language="en" if len(name) % 2 else "zh")
        if old:  # a policy of eleven years ago, its premium paid on the day: tenure and on-time points, nothing earned
            paid(make.policy(person, product, effective_date=old_start, status=PolicyStatus.EXPIRED,
                             business_type=BusinessType.NEW))
        if earned:  # in force for half a year, paid: earned premium in the period (and on time)
            paid(make.policy(person, product, effective_date=recent_start, business_type=BusinessType.NEW))
        elif not old:  # in force, nothing paid yet: neither loyal nor earning
            make.policy(person, product, effective_date=recent_start, business_type=BusinessType.NEW)
        return {"id": person.id, "name": person.name, "phone": person.phone}

    def paid(policy) -> None:
        make.session.add(Installment(policy_id=policy.id, sequence=1, due_date=policy.effective_date,
                                     amount=policy.premium, paid_amount=policy.premium,
                                     paid_date=policy.effective_date, status=InstallmentStatus.PAID))

    return {
        "manager": manager.username, "branch_id": branch.id, "product_id": product.id,
        "loyal_low": [holder(agent, f"Loyal Low {n:02d} {suffix}", old=True, earned=False)
                      for n in range(1, LOYAL_LOW + 1)],
        "elsewhere": [holder(agent, f"Keep {n} {suffix}", old=True, earned=True) for n in range(KEEP)]
        + [holder(agent, f"Secure {n} {suffix}", old=False, earned=True) for n in range(SECURE)]
        + [holder(agent, f"Serve Cheaper {n} {suffix}", old=False, earned=False) for n in range(SERVE_CHEAPER)]
        + [holder(other_agent, f"Other Branch {n} {suffix}", old=True, earned=False) for n in range(OTHER_BRANCH)],
    }


def convert(make, argument: dict) -> dict:
    """New-business policies (annual, 1,200.00) issued to the given policyholders on the given days."""
    product = make.session.get(Product, argument["product_id"])
    for holder_id, day in argument["conversions"]:
        issued = date.fromisoformat(day)
        make.policy(make.session.get(Policyholder, holder_id), product, effective_date=issued,
                    business_type=BusinessType.NEW, premium=Decimal("1200.00"))
    return {"policies": len(argument["conversions"])}


def _main(command: str, argument: str) -> None:
    app = create_app()
    with app.app_context():
        answer = {"book": build_book, "convert": convert}[command](Factory(db.session), json.loads(argument))
        db.session.commit()
    print(json.dumps(answer))


# -- the SMS gateway ------------------------------------------------------------------------------------------------

@pytest.fixture
def sms_gateway(live_server, tmp_path_factory):
    """``reply(phone, text)``: an SMS a policyholder sent, delivered as the gateway delivers it — signed, to a second
    server process over the live server's database, whose webhook has its secret."""
    env = {**os.environ, "INSURECRM_DATABASE_URL": live_server.database_url, "INSURECRM_SECRET_KEY": "browser-tests",
           "INSURECRM_INSTANCE_PATH": str(tmp_path_factory.mktemp("gateway-instance")),
           "INSURECRM_INBOUND_SMS_SECRET": SMS_SECRET}
    port = _free_port()
    log = open(tmp_path_factory.mktemp("gateway-log") / "server.log", "w")  # noqa: SIM115 - closed at teardown
    server = subprocess.Popen([sys.executable, "-m", "insurecrm.cli", "run", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def reply(phone: str, text: str) -> dict:
        body = json.dumps({"from": phone, "text": text, "message_id": f"gw-{phone}-{time.time_ns()}"}).encode()
        stamp = str(int(time.time()))
        request = urllib.request.Request(f"{base}/api/v1/inbound/sms", data=body, method="POST", headers={
            "Content-Type": "application/json", "X-InsureCRM-Timestamp": stamp,
            "X-InsureCRM-Signature": signature(SMS_SECRET, stamp, body)})
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback only
            return json.loads(answer.read())

    try:
        _wait_until_up(base, server)
        yield reply
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _unused_phones(live_server, count: int) -> list[str]:
    rng = random.Random(f"{live_server.base}-campaign")
    phones = []
    while len(phones) < count:
        phone = f"+86166{rng.randint(10_000_000, 99_999_999)}"
        if phone not in phones and live_server.query("SELECT 1 FROM policyholders WHERE phone = :phone OR "
                                                     "phone_alt = :phone", phone=phone) is None:
            phones.append(phone)
    return phones


# -- the uplift, computed by hand ----------------------------------------------------------------------------------

def wilson(successes: int, trials: int) -> tuple[float, float]:
    z = NormalDist().inv_cdf(0.975)
    rate = successes / trials
    centre, half = successes + z * z / 2, z * sqrt(trials * rate * (1 - rate) + z * z / 4)
    return max(0.0, (centre - half) / (trials + z * z)), min(1.0, (centre + half) / (trials + z * z))


def newcombe(converted: int, treated: int, control_converted: int, control: int) -> tuple[float, float, float]:
    """The difference of the two rates and Newcombe's hybrid score interval (docs/metrics.md)."""
    p1, p2 = converted / treated, control_converted / control
    (l1, u1), (l2, u2) = wilson(converted, treated), wilson(control_converted, control)
    difference = p1 - p2
    return (difference, difference - sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            difference + sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def _row_of(section) -> dict[str, str]:
    """The one row of a report table, by column heading."""
    headings = [text.strip() for text in section.locator("thead th").all_inner_texts()]
    cells = [text.strip() for text in section.locator("tbody tr").first.locator("td").all_inner_texts()]
    return dict(zip(headings, cells, strict=True))


# -- the journey -----------------------------------------------------------------------------------------------------

def test_a_manager_segments_runs_a_cross_sell_campaign_and_measures_its_uplift(page, live_server, sms_gateway):
    suffix = str(random.randint(100_000, 999_999))
    total = LOYAL_LOW + KEEP + SECURE + SERVE_CHEAPER + OTHER_BRANCH
    book = _factories(live_server.database_url, "book",
                      {"suffix": suffix, "phones": _unused_phones(live_server, total)})
    loyal_low = {holder["id"]: holder for holder in book["loyal_low"]}
    branch_book = LOYAL_LOW + KEEP + SECURE + SERVE_CHEAPER
    login(page, book["manager"], PASSWORD)

    # the segment: the loyal low contributors of the branch, counted live as the filter changes
    page.get_by_role("link", name="Segments").first.click()
    page.get_by_role("link", name="New segment").click()
    expect(page.locator("#live-count")).to_have_text(f"{branch_book} policyholders")
    segment_name = f"Loyal low contributors {suffix}"
    page.get_by_label("Name", exact=True).fill(segment_name)
    page.get_by_label("Contribution × loyalty quadrant").select_option("cross_sell")
    expect(page.locator("#live-count")).to_have_text(f"{LOYAL_LOW} policyholders")
    page.get_by_label("Unit (and the units below it)").select_option(str(book["branch_id"]))
    page.get_by_label("SMS consent").select_option("true")
    expect(page.locator("#live-count")).to_have_text(f"{LOYAL_LOW} policyholders")
    shoot(page, "manager-segment-builder")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_text("Segment saved.")).to_be_visible()

    # the campaign: cross-sell by SMS to that segment, 10% held out, worded in English and Chinese
    page.get_by_role("link", name="Campaigns").first.click()
    page.get_by_role("link", name="New campaign").click()
    campaign_name = f"Family health cross-sell {suffix}"
    page.locator("#c-name").fill(campaign_name)
    page.locator("#c-kind").select_option("cross_sell")
    page.locator("#c-channel").select_option("sms")
    page.locator("#c-segment_id").select_option(label=segment_name)
    page.locator("#c-control_percent").fill("10")
    page.locator("#c-body_en").fill(BODY_EN)
    page.locator("#c-body_zh").fill(BODY_ZH)
    page.get_by_role("button", name="Save campaign").click()
    expect(page.get_by_text("Campaign saved as a draft")).to_be_visible()
    campaign_url = page.url
    campaign_id = int(re.search(r"/campaigns/(\d+)$", campaign_url).group(1))

    # the previews, worded for the segment's first member, in both languages
    first = loyal_low[min(loyal_low)]["name"]
    previews = page.locator("section.card", has=page.locator("h3"))
    expect(previews.filter(has_text="English")).to_contain_text(
        f"Dear {first}, your loyalty earns you a family health plan")
    expect(previews.filter(has_text="Chinese (Simplified)")).to_contain_text(f"{first}，您好！感谢您多年的信任")
    shoot(page, "manager-campaign-previews")
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("The campaign is now: Active.")).to_be_visible()
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_text(re.compile(rf"Run of .+: {LOYAL_LOW} members\."))).to_be_visible()
    run_url = page.url
    run_id = int(re.search(r"/campaigns/runs/(\d+)", run_url).group(1))

    # the run's members: exactly the loyal low contributors of the branch, two held out, the others sent the SMS
    held_out = round(LOYAL_LOW * 10 / 100)
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(LOYAL_LOW)
    expect(rows.filter(has_text="Held out (control group)")).to_have_count(held_out)
    expect(rows.filter(has_text="Message sent")).to_have_count(LOYAL_LOW - held_out)
    shown = {name.strip() for name in rows.locator("td:first-child").all_inner_texts()}
    assert shown == {holder["name"] for holder in loyal_low.values()}
    shoot(page, "manager-campaign-run")
    members = _run_members(live_server, run_id)
    sent = [holder_id for holder_id, outcome, _day in members if outcome == "sent"]
    control = [holder_id for holder_id, outcome, _day in members if outcome == "control"]
    assert len(control) == held_out and set(sent) | set(control) == set(loyal_low)

    # two members answer by SMS: the replies are on their timelines, and they are responded on the run's page
    replies = {sent[0]: "Yes please, call me about the family plan", sent[1]: "请给我介绍一下这个方案"}
    for holder_id, text in replies.items():
        answer = sms_gateway(loyal_low[holder_id]["phone"], text)
        assert answer["match"] == "matched" and not answer["opt_out"], answer
    for holder_id, text in replies.items():
        page.goto(f"/policyholders/{holder_id}")
        expect(page.locator("#timeline")).to_contain_text(text)
    shoot(page, "manager-timeline-with-a-reply")
    page.goto(run_url)
    for holder_id, text in replies.items():
        expect(rows.filter(has_text=loyal_low[holder_id]["name"])).to_contain_text(text)

    # conversions come in: five sent members within the window, one after it, none of the control group
    touched = {holder_id: day for holder_id, _outcome, day in members}
    converting = sent[2:2 + CONVERTED]
    late = sent[2 + CONVERTED]
    conversions = [[holder_id, touched[holder_id].isoformat()] for holder_id in converting]
    conversions.append([late, (touched[late] + timedelta(days=31)).isoformat()])
    _factories(live_server.database_url, "convert", {"product_id": book["product_id"], "conversions": conversions})

    # the effectiveness page: the figures the test computes by hand
    page.goto(campaign_url)
    page.get_by_role("link", name=re.compile("^Effectiveness")).click()
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}/effect$"))
    page.wait_for_load_state()  # the whole page, its tables read below cell by cell
    treated = LOYAL_LOW - held_out
    difference, low, high = newcombe(CONVERTED, treated, 0, held_out)
    assert (round(difference, 4), round(low, 4), round(high, 4)) == (0.2778, -0.3974, 0.5087)  # 5/18 against 0/2
    figures = _row_of(page.locator("section[aria-labelledby=table-campaign-title]"))
    assert figures["Members"] == str(LOYAL_LOW) and figures["Control group"] == str(held_out)
    assert figures["Reached"] == str(treated) and figures["Responded"] == str(len(replies))
    assert figures["Converted"] == str(CONVERTED) and figures["Control converted"] == "0"
    assert figures["Conversion rate"] == f"{CONVERTED / treated:.2%}" == "27.78%"
    assert figures["Control conversion rate"] == "0.00%"
    uplift_at = list(figures).index("Uplift")  # the uplift, then its interval's low and high bounds
    assert list(figures.values())[uplift_at:uplift_at + 3] == [f"{difference:.2%}", f"{low:.2%}", f"{high:.2%}"]
    assert figures["Premium won"].endswith(f"{1200 * CONVERTED:,.2f}")
    expect(page.locator("p.uplift")).to_contain_text(
        f"{CONVERTED / treated:.1%} of the members converted, against 0.0% of the control group.")
    expect(page.locator("p.uplift")).to_contain_text(f"between {low:.1%} and {high:.1%}")
    expect(page.locator("p.uplift")).to_contain_text("may be chance")  # two held out are too few to tell
    shoot(page, "manager-campaign-effect")

    # the other branch's loyal low contributors were never in it
    others = [holder["id"] for holder in book["elsewhere"]]
    assert not set(others) & {holder_id for holder_id, _outcome, _day in members}


def _run_members(live_server, run_id: int) -> list[tuple[int, str, date]]:
    """The run's members from the server's database, each with the UTC day of their touch (a conversion counts from
    that day)."""
    engine = sa.create_engine(live_server.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(RUN_MEMBERS), {"run": run_id}).all()
    finally:
        engine.dispose()
    return [(row.policyholder_id, row.outcome, _utc_day(row.touched_at)) for row in rows]


def _utc_day(value) -> date:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)).date()


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2])
