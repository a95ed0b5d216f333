"""No open redirect: ``next`` on /login and /language only ever leads to a path on this site, as a browser reads it."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from insurecrm.models import Role
from insurecrm.web import is_safe_redirect
from tests.api_client import csrf_token
from tests.factories import PASSWORD

#: known ways to make a "local" path leave the site (decoded values, as the application receives them), from the
#: usual open-redirect payload lists: protocol-relative, backslashes, control characters and whitespace the
#: browser drops, encoded slashes, schemes
BYPASSES = [
    "//evil.example/", "///evil.example/", "////evil.example", "/\\evil.example", "\\/evil.example", "/\\/evil.example",
    "\\\\evil.example", "/\t/evil.example/", "/\n/evil.example/", "/\r/evil.example", "\t//evil.example",
    " //evil.example", "/ /evil.example", "/\x00/evil.example", "/\x0b/evil.example", "/\u3000/evil.example",
    "/\u00a0/evil.example", "/\u2028/evil.example", "/%09/evil.example/", "/%0a/evil.example", "/%0D/evil.example",
    "/%2F/evil.example", "/%2f%2fevil.example", "%2F%2Fevil.example", "/%5Cevil.example", "/%5c%5cevil.example",
    "https://evil.example/", "http:evil.example", "http:/evil.example", "https:\\\\evil.example", "//evil.example@site",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", "evil.example",
    "/login\\@evil.example", "//%65vil.example", "/" + "a" * 3000, "", None,
]
#: the views are checked with a sample; the function itself with every payload above
THROUGH_THE_VIEWS = ["//evil.example/", "/\\evil.example", "/\t/evil.example/", "/%09/evil.example/",
                     "/%2f%2fevil.example", "https://evil.example/", "javascript:alert(1)"]
SAFE = ["/", "/my-day", "/policyholders?q=Wang+Fang&page=2", "/policyholders/12#timeline",
        "/policyholders?q=%E5%BC%A0%E4%BC%9F", "/renewals?status=open&due_within=30", "/a//b", "/dashboard/agents/3"]


@pytest.mark.parametrize("target", BYPASSES)
def test_unsafe_targets_are_refused(target):
    assert not is_safe_redirect(target)


@pytest.mark.parametrize("target", SAFE)
def test_paths_on_the_site_are_kept(target):
    assert is_safe_redirect(target)


@pytest.mark.parametrize("target", THROUGH_THE_VIEWS)
def test_login_never_redirects_off_the_site(client, make, target):
    make.user(Role.AGENT, username="chen")
    response = client.post(f"/login?next={quote(target, safe='')}", data={
        "username": "chen", "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_login_with_the_issues_example_stays_on_the_site(client, make):
    make.user(Role.AGENT, username="chen")
    response = client.post("/login?next=/%09/evil.example/", data={
        "username": "chen", "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/"


def test_login_follows_a_path_on_the_site(client, make):
    make.user(Role.AGENT, username="chen")
    response = client.post(f"/login?next={quote('/policyholders?q=Wang+Fang', safe='')}", data={
        "username": "chen", "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/policyholders?q=Wang+Fang"


@pytest.mark.parametrize("target", THROUGH_THE_VIEWS)
def test_the_language_switch_never_redirects_off_the_site(client, target):
    response = client.post("/language", data={"lang": "zh", "next": target, "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_language_switch_returns_to_the_page(client):
    response = client.post("/language", data={"lang": "en", "next": "/policyholders?page=2",
                                              "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/policyholders?page=2"
