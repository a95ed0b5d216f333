"""The demo book's policyholders: valid identities, households, statuses that fit their policies."""

from __future__ import annotations

import re
from collections import defaultdict

import phonenumbers
from sqlalchemy import select
from stdnum.cn import ric, uscc

from agents.models import Referral
from policies.models import Policy
from policyholders.models import Policyholder, PolicyholderRelationship, PolicyholderTag
from tests.demo.conftest import SIZE

E164_CN_MOBILE = re.compile(r"^\+861[3-9]\d{9}$")
INVERSE = {"spouse": "spouse", "child": "parent", "parent": "child"}


def test_names_and_identity_numbers_are_realistic_and_valid(book, session):
    holders = session.scalars(select(Policyholder)).all()
    assert len(holders) == SIZE
    names = [h.name for h in holders if h.kind.value == "person"]
    chinese = [n for n in names if re.fullmatch(r"[\u4e00-\u9fff]{2,4}", n)]
    english = [n for n in names if re.fullmatch(r"[A-Za-z'.-]+ [A-Za-z'.-]+", n)]
    assert len(chinese) > len(names) * 0.7 and english and len(chinese) + len(english) == len(names)
    residents = [h for h in holders if h.id_type and h.id_type.value == "prc_resident"]
    assert len(residents) > SIZE / 2
    for holder in residents:
        assert ric.is_valid(holder.id_number), holder.id_number
        assert ric.get_birth_date(holder.id_number) == holder.date_of_birth
        assert int(holder.id_number[16]) % 2 == (1 if holder.gender.value == "male" else 0)
    assert all(uscc.is_valid(h.id_number) for h in holders if h.kind.value == "organisation")
    assert len({(h.id_type, h.id_number) for h in holders}) == len(holders)


def test_phones_are_valid_chinese_mobiles_in_e164(book, session):
    phones = [p for (p,) in session.execute(select(Policyholder.phone).where(Policyholder.phone.is_not(None)))]
    assert len(phones) > SIZE / 2
    for phone in phones:
        assert E164_CN_MOBILE.match(phone), phone
        parsed = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(parsed) and phonenumbers.region_code_for_number(parsed) == "CN"
        assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
    assert len(set(phones)) == len(phones)


def test_household_relationships_exist_in_both_directions(book, session):
    relationships = {(r.from_policyholder_id, r.to_policyholder_id, r.kind.value)
                     for r in session.scalars(select(PolicyholderRelationship))}
    assert {kind for _, _, kind in relationships} == {"spouse", "child", "parent"}
    for source, target, kind in relationships:
        assert (target, source, INVERSE[kind]) in relationships
    holders = {h.id: h for h in session.scalars(select(Policyholder))}
    for source, target, kind in relationships:
        if kind == "child":  # the child is younger and lives at the same address
            assert holders[source].date_of_birth > holders[target].date_of_birth
            assert holders[source].address == holders[target].address


def test_statuses_fit_the_policies(book, session):
    statuses = defaultdict(set)
    for holder_id, status in session.execute(select(Policy.policyholder_id, Policy.status)):
        statuses[holder_id].add(status.value)
    holders = session.scalars(select(Policyholder)).all()
    assert {h.status.value for h in holders} >= {"prospect", "active", "former"}
    for holder in holders:
        held = statuses[holder.id]
        expected = ("active" if held & {"in_force", "grace", "reinstated"} else "lapsed" if "lapsed" in held
                    else "former" if held else "prospect")
        assert holder.status.value == expected, holder.id


def test_ownership_channels_referrals_consent_and_tags(book, session):
    holders = session.scalars(select(Policyholder)).all()
    assert all(h.org_unit_id and h.region and h.acquisition_channel for h in holders)
    assert {h.acquisition_channel.value for h in holders} >= {"agency", "bancassurance", "telesales"}
    banca = [h for h in holders if h.acquisition_channel.value == "bancassurance"]
    assert banca and all(h.bank_partner_id and h.referrer_id for h in banca)
    referrals = session.scalars(select(Referral)).all()
    assert any(r.status.value == "converted" and r.policyholder_id for r in referrals)
    assert all(r.referrer.bank_branch_id == r.bank_branch_id for r in referrals)
    assert {h.consent_marketing for h in holders} == {True, False}
    adults = [h for h in holders if h.kind.value == "person" and h.occupation not in (None, "student")]
    assert all(h.income_band is not None for h in adults)
    assert session.scalars(select(PolicyholderTag)).first() is not None
