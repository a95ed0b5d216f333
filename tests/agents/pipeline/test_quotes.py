"""Quotes (agents/pipeline/quotes.py): the premium from a product's rate table computed by hand (bands by age and
gender, a flat premium, loadings per frequency, half-up cents), refused when no band covers the person; the admins'
rate table page (overlapping bands refused, nothing written); the quote pages and the PDF in the user's scope."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from agents.models import FrequencyLoading, Opportunity, OpportunityStatus, Quote, RateRow
from agents.pipeline import quotes as services
from insurecrm import clock
from insurecrm.models import Role
from policyholders.models import Gender
from tests.api_client import csrf_token


def post(client, url: str, **form):
    return client.post(url, data={"csrf_token": csrf_token(client), **form})


def quote_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Quote))


@pytest.fixture
def table(make, session):
    """A product sold yearly and monthly: ages 18–40 any gender at 1.2500 per 1,000; 41–60 women at 2.0000, men at
    2.5000; monthly premiums loaded by 1.0400. A second product, quarterly and annual, at a flat 600.00 a year with
    quarterly premiums loaded by 1.0200."""
    product = make.product(code="CI-1", name="Critical Illness One", frequencies=["annual", "monthly"])
    for age_min, age_max, gender, rate in ((18, 40, None, "1.2500"), (41, 60, "female", "2.0000"),
                                           (41, 60, "male", "2.5000")):
        session.add(RateRow(product_id=product.id, age_min=age_min, age_max=age_max, gender=gender,
                            rate_per_thousand=Decimal(rate)))
    session.add(FrequencyLoading(product_id=product.id, frequency="monthly", loading=Decimal("1.0400")))
    flat = make.product(code="PA-FLAT", name="Accident Flat", frequencies=["annual", "quarterly"])
    services.set_flat_premium(flat, Decimal("600.00"))
    session.add(FrequencyLoading(product_id=flat.id, frequency="quarterly", loading=Decimal("1.0200")))
    session.commit()
    return SimpleNamespace(product=product, flat=flat)


@pytest.mark.parametrize(("age", "gender", "frequency", "annual", "installment"), [
    # 123,456.78 ÷ 1,000 × 2.0000 = 246.91356 → 246.91; monthly 246.91 × 1.04 ÷ 12 = 21.39886… → 21.40
    (45, "female", "monthly", "246.91", "21.40"),
    (45, "female", "annual", "246.91", "246.91"),
    # 123,456.78 ÷ 1,000 × 2.5000 = 308.64195 → 308.64; monthly 308.64 × 1.04 ÷ 12 = 26.7488 → 26.75
    (60, "male", "monthly", "308.64", "26.75"),
    # any gender: 123,456.78 ÷ 1,000 × 1.25 = 154.320975 → 154.32 (a woman of 30 reads the row for any gender)
    (30, "female", "annual", "154.32", "154.32"),
    (18, None, "monthly", "154.32", "13.37"),  # 154.32 × 1.04 ÷ 12 = 13.3744 → 13.37
])
def test_the_premium_from_the_bands(table, age, gender, frequency, annual, installment):
    premium = services.premium(table.product, age=age, gender=gender, sum_insured=Decimal("123456.78"),
                               frequency=frequency)
    assert (premium.annual, premium.installment) == (Decimal(annual), Decimal(installment))


def test_a_flat_premium_ignores_age_and_sum_insured(table):
    # 600.00 × 1.02 ÷ 4 = 153.00
    for age, sum_insured in ((5, "1000.00"), (80, "9999999.00")):
        premium = services.premium(table.flat, age=age, gender=None, sum_insured=Decimal(sum_insured),
                                   frequency="quarterly")
        assert (premium.rate_per_thousand, premium.annual, premium.installment) == (
            None, Decimal("600.00"), Decimal("153.00"))


@pytest.mark.parametrize(("age", "gender", "frequency", "field"), [
    (61, "female", "annual", "age"),  # beyond every band
    (17, None, "annual", "age"),
    (45, None, "annual", "age"),  # 41–60 is priced per gender only
    (45, "other", "annual", "age"),
    (30, None, "quarterly", "frequency"),  # not sold quarterly
])
def test_no_band_no_quote(table, age, gender, frequency, field):
    with pytest.raises(services.ValidationError) as refused:
        services.premium(table.product, age=age, gender=gender, sum_insured=Decimal("1000"), frequency=frequency)
    assert set(refused.value.messages) == {field}


def test_age_in_whole_years():
    assert services.age_on(date(1980, 6, 15), date(2026, 6, 14)) == 45
    assert services.age_on(date(1980, 6, 15), date(2026, 6, 15)) == 46
    assert services.age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25
    assert services.age_on(date(2000, 2, 29), date(2026, 3, 1)) == 26


# -- the admins' rate table page ---------------------------------------------------------------------------

def band_rows(session, product) -> list[tuple]:
    return [(r.age_min, r.age_max, r.gender, str(r.rate_per_thousand)) for r in session.scalars(
        select(RateRow).where(RateRow.product_id == product.id).order_by(RateRow.age_min, RateRow.gender))]


def test_admins_add_edit_and_delete_bands(web, make, session, table):
    admin = web(make.user(Role.ADMIN))
    url = f"/admin/rate-tables/{table.product.id}"
    assert table.product.code in admin.get("/admin/rate-tables").get_data(as_text=True)
    assert post(admin, f"{url}/rows", age_min="61", age_max="75", gender="female",
                rate_per_thousand="4.1000").status_code == 302
    html = admin.get(url).get_data(as_text=True)
    assert "61–75" in html and "4.1" in html
    [new] = session.scalars(select(RateRow).where(RateRow.age_min == 61))
    assert post(admin, f"{url}/rows/{new.id}", age_min="61", age_max="70", gender="female",
                rate_per_thousand="4.2000").status_code == 302
    session.expire_all()
    assert (new.age_max, new.rate_per_thousand) == (70, Decimal("4.2000"))
    assert post(admin, f"{url}/rows/{new.id}/delete").status_code == 302
    assert (61, 70, "female", "4.2000") not in band_rows(session, table.product)


@pytest.mark.parametrize(("form", "field"), [
    ({"age_min": "35", "age_max": "45", "rate_per_thousand": "1"}, "age_min"),  # any gender over 18–40 and 41–60
    ({"age_min": "60", "age_max": "70", "gender": "male", "rate_per_thousand": "3"}, "age_min"),  # shares 60
    ({"age_min": "70", "age_max": "65", "rate_per_thousand": "3"}, "age_max"),  # in the wrong order
    ({"age_min": "61", "age_max": "65", "rate_per_thousand": "-0.5"}, "rate_per_thousand"),
    ({"age_min": "61", "age_max": "200", "rate_per_thousand": "1"}, "age_max"),
    ({"age_min": "61", "age_max": "65", "gender": "robot", "rate_per_thousand": "1"}, "gender"),
])
def test_refused_bands_write_nothing(web, make, session, table, form, field):
    admin = web(make.user(Role.ADMIN))
    before = band_rows(session, table.product)
    response = post(admin, f"/admin/rate-tables/{table.product.id}/rows", **form)
    assert response.status_code == 422
    assert f'id="new-{field}-error"' in response.get_data(as_text=True)
    assert band_rows(session, table.product) == before


def test_an_edit_may_not_overlap_another_band(web, make, session, table):
    admin = web(make.user(Role.ADMIN))
    [women] = session.scalars(select(RateRow).where(RateRow.gender == "female"))
    response = post(admin, f"/admin/rate-tables/{table.product.id}/rows/{women.id}", age_min="39", age_max="60",
                    gender="female", rate_per_thousand="2")
    assert response.status_code == 422 and "Overlaps the band 18–40" in response.get_data(as_text=True)
    session.expire_all()
    assert women.age_min == 41


def test_flat_premium_and_loadings_on_the_page(web, make, session, table):
    admin = web(make.user(Role.ADMIN))
    url = f"/admin/rate-tables/{table.product.id}"
    assert post(admin, f"{url}/loadings", frequency="monthly", loading="1.0500").status_code == 302
    assert services.loadings_of(table.product) == {"monthly": Decimal("1.0500")}
    assert post(admin, f"{url}/loadings", frequency="quarterly", loading="1.01").status_code == 422  # not sold so
    assert post(admin, f"{url}/loadings", frequency="monthly", loading="0").status_code == 422
    assert post(admin, f"{url}/flat-premium", flat_premium="-1").status_code == 422
    assert post(admin, f"{url}/flat-premium", flat_premium="99.99").status_code == 302
    assert services.premium(table.product, age=99, gender=None, sum_insured=Decimal("1"),
                            frequency="monthly").installment == Decimal("8.75")  # 99.99 × 1.05 ÷ 12 = 8.749125
    assert post(admin, f"{url}/flat-premium", flat_premium="").status_code == 302
    assert services.settings_of(table.product).flat_premium is None


@pytest.mark.parametrize("role", [Role.AGENT, Role.BRANCH_MANAGER, Role.ACTUARY, Role.BANCASSURANCE_SPECIALIST])
def test_the_rate_tables_are_for_admins(web, make, table, role):
    client = web(make.user(role))
    assert client.get("/admin/rate-tables").status_code == 403
    assert client.get(f"/admin/rate-tables/{table.product.id}").status_code == 403
    assert post(client, f"/admin/rate-tables/{table.product.id}/rows", age_min="70", age_max="80",
                rate_per_thousand="1").status_code == 403


# -- quotes for opportunities, policyholders and prospects --------------------------------------------------

@pytest.fixture
def sales(make, session, table):
    """Agent A with an opportunity for a policyholder (a woman turning 45 this year) and one for a prospect; agent B
    with an opportunity of their own."""
    stage = make.stage(code="needs", name="Needs identified", probability=Decimal("40"))
    a, b = make.agent(), make.agent()
    today = clock.today()
    holder = make.policyholder(owner=a, name="Mei Lin", gender=Gender.FEMALE,
                               date_of_birth=date(today.year - 45, 1, 1))

    def opportunity(agent, **kw):
        return make._add(Opportunity(title=kw.pop("title", "Cover"), owner_agent_id=agent.id,
                                     org_unit_id=agent.org_unit_id, stage_id=stage.id, probability=Decimal("40"),
                                     **kw))

    return SimpleNamespace(
        a=make.user(Role.AGENT, agent_id=a.id), b=make.user(Role.AGENT, agent_id=b.id), holder=holder,
        deal=opportunity(a, title="Family cover", policyholder_id=holder.id),
        prospect_deal=opportunity(a, title="Prospect cover", prospect_name="Wang Prospect"),
        other_deal=opportunity(b, title="B's deal", prospect_name="B's prospect"), product=table.product)


def test_an_agent_quotes_their_opportunity_and_prints_it(web, session, sales):
    client = web(sales.a)
    form = client.get(f"/quotes/new?opportunity_id={sales.deal.id}")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "Critical Illness One" in html and "Accident Flat" in html  # the quotable products
    response = post(client, f"/quotes/new?opportunity_id={sales.deal.id}", product_id=str(sales.product.id),
                    sum_insured="123456.78", frequency="monthly")
    assert response.status_code == 302, response.get_data(as_text=True)
    [quote] = session.scalars(select(Quote))
    # her age (45) and gender come from the policyholder: 246.91 a year, 21.40 a month (as computed above)
    assert (quote.opportunity_id, quote.policyholder_id, quote.age, quote.gender, quote.annual_premium,
            quote.installment_premium, quote.created_by_user_id) == (
        sales.deal.id, sales.holder.id, 45, "female", Decimal("246.91"), Decimal("21.40"), sales.a.id)
    assert response.headers["Location"].endswith(f"/quotes/{quote.id}")
    page = client.get(f"/quotes/{quote.id}").get_data(as_text=True)
    assert "Mei Lin" in page and "246.91" in page and "21.40" in page
    link = re.search(r'href="([^"]+)">Win with this quote', page).group(1).replace("&amp;", "&")
    assert link == (f"/opportunities/{sales.deal.id}?product_id={sales.product.id}&sum_insured=123456.78"
                    f"&premium=21.40&frequency=monthly&quote_id={quote.id}#win")
    pdf = client.get(f"/quotes/{quote.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.get_data())).pages)
    for expected in (f"Quote #{quote.id}", "Mei Lin", "Critical Illness One", "246.91", "21.40", "123,456.78"):
        assert expected in text, expected


def test_a_prospect_is_quoted_by_age(web, session, sales):
    client = web(sales.a)
    response = post(client, f"/quotes/new?opportunity_id={sales.prospect_deal.id}", product_id=str(sales.product.id),
                    sum_insured="100000", frequency="annual", age="30")
    assert response.status_code == 302
    [quote] = session.scalars(select(Quote))
    # 100,000 ÷ 1,000 × 1.25 = 125.00
    assert (quote.prospect_name, quote.age, quote.gender, quote.installment_premium) == (
        "Wang Prospect", 30, None, Decimal("125.00"))


def test_a_policyholder_is_quoted_without_an_opportunity(web, session, sales, table):
    client = web(sales.a)
    response = post(client, f"/quotes/new?policyholder_id={sales.holder.id}", product_id=str(table.flat.id),
                    sum_insured="50000", frequency="quarterly")
    assert response.status_code == 302
    [quote] = session.scalars(select(Quote))
    assert (quote.opportunity_id, quote.policyholder_id, quote.installment_premium) == (
        None, sales.holder.id, Decimal("153.00"))
    # no opportunity: no win link
    assert "Win with this quote" not in client.get(f"/quotes/{quote.id}").get_data(as_text=True)


@pytest.mark.parametrize(("form", "field"), [
    ({"age": "70"}, "age"),  # no band
    ({}, "age"),  # a prospect of no known age
    ({"age": "30", "frequency": "weekly"}, "frequency"),
    ({"age": "30", "sum_insured": "0"}, "sum_insured"),
    ({"age": "30", "sum_insured": "12.345"}, "sum_insured"),
    ({"age": "151"}, "age"),
])
def test_a_refused_quote_shows_the_form_again_and_writes_nothing(web, session, sales, form, field):
    client = web(sales.a)
    data = {"product_id": str(sales.product.id), "sum_insured": "100000", "frequency": "annual", **form}
    response = post(client, f"/quotes/new?opportunity_id={sales.prospect_deal.id}", **data)
    assert response.status_code == 422
    assert f'id="quote-{field}-error"' in response.get_data(as_text=True)
    assert quote_count(session) == 0


def test_a_closed_opportunity_is_not_quoted(web, session, sales):
    sales.deal.status = OpportunityStatus.LOST
    session.commit()
    response = post(web(sales.a), f"/quotes/new?opportunity_id={sales.deal.id}", product_id=str(sales.product.id),
                    sum_insured="1000", frequency="annual")
    assert response.status_code == 422 and quote_count(session) == 0


def test_another_agents_opportunity_and_quotes_are_404(web, session, sales):
    response = post(web(sales.b), f"/quotes/new?opportunity_id={sales.deal.id}", product_id=str(sales.product.id),
                    sum_insured="1000", frequency="annual")
    assert response.status_code == 404 and quote_count(session) == 0
    b = web(sales.b)
    assert b.get(f"/quotes/new?opportunity_id={sales.deal.id}").status_code == 404
    assert b.get(f"/quotes/new?policyholder_id={sales.holder.id}").status_code == 404
    post(web(sales.a), f"/quotes/new?opportunity_id={sales.deal.id}", product_id=str(sales.product.id),
         sum_insured="1000", frequency="annual")
    [quote] = session.scalars(select(Quote))
    assert b.get(f"/quotes/{quote.id}").status_code == 404
    assert b.get(f"/quotes/{quote.id}.pdf").status_code == 404
    assert web(sales.a).get(f"/quotes/{quote.id}").status_code == 200


@pytest.mark.parametrize(("role", "status"), [(Role.ACTUARY, 403), (Role.BANK_REFERRER, 403), (Role.ADMIN, 200),
                                              (Role.BRANCH_MANAGER, 404)])
def test_roles(web, make, session, sales, role, status):
    """The manager of another branch: 404 on the opportunity and its quote; admins see every quote."""
    post(web(sales.a), f"/quotes/new?opportunity_id={sales.deal.id}", product_id=str(sales.product.id),
         sum_insured="1000", frequency="annual")
    [quote] = session.scalars(select(Quote))
    client = web(make.user(role, org_unit_id=make.org_unit().id) if role == Role.BRANCH_MANAGER else make.user(role))
    assert client.get(f"/quotes/{quote.id}").status_code == status
    assert client.get(f"/quotes/{quote.id}.pdf").status_code == status
    assert client.get(f"/quotes/new?opportunity_id={sales.deal.id}").status_code == status


def test_the_quotes_are_listed_on_the_opportunity_and_carried_into_the_won_policy(web, make, session, sales):
    from policies.models import Policy

    make.stage(code="signed", name="Signed", probability=Decimal("100"), is_won=True)
    client = web(sales.a)
    post(client, f"/quotes/new?opportunity_id={sales.deal.id}", product_id=str(sales.product.id),
         sum_insured="123456.78", frequency="monthly")
    [quote] = session.scalars(select(Quote))
    page = client.get(f"/opportunities/{sales.deal.id}").get_data(as_text=True)
    row = re.search(rf'<tr id="quote-{quote.id}">(.*?)</tr>', page, re.S).group(1)
    assert "Critical Illness One" in row and "21.40" in row and "Win with this quote" in row
    assert f"/quotes/new?opportunity_id={sales.deal.id}" in page
    # the win form opened from the quote starts with the quote's terms
    link = re.search(r'href="([^"]+)">Win with this quote', row).group(1).replace("&amp;", "&")
    form = client.get(link).get_data(as_text=True)
    win = re.search(r'<section class="card" aria-labelledby="win-title".*?</section>', form, re.S).group(0)
    assert 'name="premium" type="text" value="21.40"' in win and 'value="123456.78"' in win
    assert re.search(r'<option value="monthly" selected>', win)
    assert re.search(rf'<option value="{sales.product.id}" selected>', win)
    # won with those terms: the policy carries the quote's product, sum insured, premium and frequency
    response = post(client, f"/opportunities/{sales.deal.id}/win", product_id=str(sales.product.id),
                    sum_insured="123456.78", premium="21.40", frequency="monthly")
    assert response.status_code == 302, response.get_data(as_text=True)
    [policy] = session.scalars(select(Policy).where(Policy.policyholder_id == sales.holder.id))
    assert (policy.product_id, policy.sum_insured, policy.premium, policy.frequency.value) == (
        sales.product.id, Decimal("123456.78"), Decimal("21.40"), "monthly")
    # once won, no more quoting and no more winning from the quote
    assert "Win with this quote" not in client.get(f"/quotes/{quote.id}").get_data(as_text=True)
    assert post(client, f"/quotes/new?opportunity_id={sales.deal.id}", product_id=str(sales.product.id),
                sum_insured="1000", frequency="annual", age="30").status_code == 422


def test_the_pages_run_a_fixed_number_of_queries(web, make, session, sales, table):
    from tests.helpers import counted_queries

    admin = web(make.user(Role.ADMIN))
    agent = web(sales.a)
    post(agent, f"/quotes/new?opportunity_id={sales.deal.id}", product_id=str(sales.product.id),
         sum_insured="1000", frequency="annual")
    [quote] = session.scalars(select(Quote))
    counted = []
    for n in range(2):
        with counted_queries() as queries:
            assert admin.get(f"/admin/rate-tables/{table.product.id}").status_code == 200
            assert admin.get("/admin/rate-tables").status_code == 200
            assert agent.get(f"/quotes/{quote.id}").status_code == 200
            assert agent.get(f"/quotes/new?opportunity_id={sales.deal.id}").status_code == 200
        counted.append(len(queries))
        for k in range(5):  # more bands, products and quotes
            session.add(RateRow(product_id=table.product.id, age_min=100 + 10 * n + k, age_max=100 + 10 * n + k,
                                rate_per_thousand=Decimal("9")))
            other = make.product()
            session.add(RateRow(product_id=other.id, age_min=1, age_max=2, rate_per_thousand=Decimal("1")))
            post(agent, f"/quotes/new?opportunity_id={sales.deal.id}", product_id=str(sales.product.id),
                 sum_insured="1000", frequency="annual")
        session.commit()
    assert counted[0] == counted[1]


def test_the_api_computes_lists_and_shows_quotes_in_scope(api, session, sales, table):
    agent = api(sales.a)
    response = agent.post("/api/v1/quotes", json={"opportunity_id": sales.deal.id, "product_id": sales.product.id,
                                                  "sum_insured": "123456.78", "frequency": "monthly"})
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["opportunity_id"], body["policyholder_id"], body["age"], body["gender"], body["annual_premium"],
            body["installment_premium"], body["loading"]) == (sales.deal.id, sales.holder.id, 45, "female",
                                                              "246.91", "21.40", "1.0400")
    # a prospect's quote outside any opportunity: 100,000 ÷ 1,000 × 1.25 = 125.00
    prospect = agent.post("/api/v1/quotes", json={"prospect_name": "Walk-in Zhao", "age": 30, "product_id":
                                                  sales.product.id, "sum_insured": "100000.00", "frequency": "annual"})
    assert (prospect.status_code, prospect.json["installment_premium"]) == (201, "125.00")
    listed = agent.get(f"/api/v1/quotes?opportunity_id={sales.deal.id}").json
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert agent.get(f"/api/v1/quotes/{body['id']}").json["installment_premium"] == "21.40"
    other = api(sales.b)
    assert other.get(f"/api/v1/quotes/{body['id']}").status_code == 404
    assert other.get("/api/v1/quotes").json["items"] == []


@pytest.mark.parametrize(("json", "status", "fields"), [
    ({"age": 70}, 422, {"age"}),  # no band
    ({"age": 30, "sum_insured": "-5"}, 422, {"sum_insured"}),
    ({"age": 30, "frequency": "hourly"}, 422, {"frequency"}),
    ({"age": 30, "premium": "1.00"}, 422, {"premium"}),  # the premium is computed, never sent
    ({"age": 30, "opportunity_id": "other"}, 404, None),  # another agent's opportunity
    ({"age": 30, "policyholder_id": "other"}, 404, None),
])
def test_the_api_refuses_and_writes_nothing(api, make, session, sales, json, status, fields):
    foreign_holder = make.policyholder(owner=make.agent())
    json = {**json, "opportunity_id": sales.other_deal.id} if json.get("opportunity_id") == "other" else json
    json = {**json, "policyholder_id": foreign_holder.id} if json.get("policyholder_id") == "other" else json
    body = {"prospect_name": "Walk-in", "product_id": sales.product.id, "sum_insured": "1000.00",
            "frequency": "annual", **json}
    response = api(sales.a).post("/api/v1/quotes", json=body)
    assert response.status_code == status, response.json
    if fields is not None:
        assert set(response.json["errors"]) == fields
    assert quote_count(session) == 0


@pytest.mark.parametrize("role", [Role.ACTUARY, Role.BANK_REFERRER])
def test_the_api_is_not_for_actuaries_and_referrers(api, make, sales, role):
    client = api(make.user(role))
    assert client.get("/api/v1/quotes").status_code == 403
    assert client.post("/api/v1/quotes", json={"prospect_name": "x", "age": 30, "product_id": sales.product.id,
                                                "sum_insured": "1000.00", "frequency": "annual"}).status_code == 403
