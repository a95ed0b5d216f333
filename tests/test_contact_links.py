"""Phones and emails are links that call and write, for the roles that may see them; never for the actuary."""

from __future__ import annotations

from insurecrm.models import Role


def test_the_policyholder_page_calls_and_writes_with_a_tap(web, make):
    holder = make.policyholder(phone="+8613800138000", phone_alt="+8613900139000", email="li.na@example.com")
    html = web(make.user(Role.ADMIN)).get(f"/policyholders/{holder.id}").get_data(as_text=True)
    assert '<a href="tel:+8613800138000" class="contact">+86 138 0013 8000</a>' in html
    assert '<a href="tel:+8613900139000" class="contact">+86 139 0013 9000</a>' in html
    assert '<a href="mailto:li.na@example.com" class="contact">li.na@example.com</a>' in html


def test_the_actuary_gets_no_number_in_a_link(web, make):
    holder = make.policyholder(phone="+8613800138000", email="li.na@example.com")
    client = web(make.user(Role.ACTUARY))
    for path in (f"/policyholders/{holder.id}", "/policyholders"):
        html = client.get(path).get_data(as_text=True)
        assert "tel:" not in html and "mailto:" not in html and "13800138000" not in html and "•••" in html


def test_a_referrer_in_the_admin_list_too(web, make):
    make.referrer(phone="+8613700137000", email="rita@bank.example")
    html = web(make.user(Role.ADMIN)).get("/admin/referrers").get_data(as_text=True)
    assert 'href="tel:+8613700137000"' in html and 'href="mailto:rita@bank.example"' in html
