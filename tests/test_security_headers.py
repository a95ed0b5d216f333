"""Security headers on every response, and pages that need no inline script (so the policy can forbid it)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from insurecrm.models import Role
from tests.api_client import csrf_token

ROOT = Path(__file__).resolve().parents[1]
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
          "frame-ancestors 'none'")


@pytest.fixture
def admin_web(web, make):
    return web(make.user(Role.ADMIN))


def fetch(client, api, make, what: str):
    """One response of each kind the application gives."""
    admin_api = api(make.user(Role.ADMIN))
    return {
        "login page": lambda: client.get("/login"),
        "page": lambda: client.get("/admin/users"),
        "export": lambda: client.get("/policyholders/export.csv"),
        "error page": lambda: client.get("/no-such-page"),
        "API": lambda: admin_api.get("/api/v1/products"),
        "API error": lambda: client.get("/api/v1/products"),
        "API docs": lambda: client.get("/api/v1/docs"),
        "stylesheet": lambda: client.get("/static/css/app.css"),
        "plotly.js": lambda: client.get("/vendor/plotly.min.js"),
    }[what]()


@pytest.mark.parametrize("what", ["login page", "page", "export", "error page", "API", "API error", "API docs",
                                  "stylesheet", "plotly.js"])
def test_every_response_carries_the_security_headers(admin_web, api, make, what):
    response = fetch(admin_web, api, make, what)
    assert response.status_code in (200, 401, 404)
    assert response.headers["Content-Security-Policy"] == POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    response.close()


@pytest.mark.parametrize("what", ["login page", "page", "export", "error page", "API", "API error", "API docs"])
def test_pages_exports_and_api_answers_are_never_stored(admin_web, api, make, what):
    response = fetch(admin_web, api, make, what)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("what", ["stylesheet", "plotly.js"])
def test_static_files_may_be_cached(admin_web, api, make, what):
    response = fetch(admin_web, api, make, what)
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response.close()


def test_the_export_is_personal_data_and_not_stored(admin_web):
    response = admin_web.get("/policyholders/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"


def test_production_asks_browsers_for_https_only(app):
    from insurecrm.web import security_headers

    production = type("App", (), {"config": {"ENV_NAME": "production"}})()
    with app.test_request_context("/login"):
        response = security_headers(production)(app.response_class("x"))
        development = security_headers(app)(app.response_class("x"))
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in development.headers


# -- no inline script -----------------------------------------------------------------------------------------

class ScriptAudit(HTMLParser):
    """Collects what a Content-Security-Policy without 'unsafe-inline' scripts would block."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self.sources: list[str] = []
        self.data_blocks = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.blocked += [f"{tag} {name}=" for name in attributes if name.startswith("on")]
        self.blocked += [f"{tag} {name}" for name, value in attributes.items() if "javascript:" in (value or "")]
        if tag == "script":
            if attributes.get("src"):
                self.sources.append(attributes["src"])
            elif attributes.get("type") == "application/json":
                self.data_blocks += 1
            else:
                self.blocked.append("inline <script>")


def audit(html: str) -> ScriptAudit:
    parser = ScriptAudit()
    parser.feed(html)
    return parser


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for template in ROOT.glob("*/templates/**/*.html"):
        text = template.read_text()
        for match in re.finditer(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>|\son[a-z]+=", text):
            offenders.append(f"{template.relative_to(ROOT)}: {match.group(0).strip()}")
    assert offenders == []


@pytest.mark.parametrize("url", ["/dashboard", "/renewals/board", "/admin/users", "/account"])
def test_pages_draw_their_charts_from_static_files(admin_web, url):
    response = admin_web.get(url)
    assert response.status_code == 200
    found = audit(response.get_data(as_text=True))
    assert found.blocked == []
    assert "/static/js/app.js" in found.sources
    if url in ("/dashboard", "/renewals/board"):
        assert found.data_blocks == 2 and "/vendor/plotly.min.js" in found.sources


def test_charts_on_chinese_pages_load_plotlys_chinese_texts(admin_web):
    locale = "/static/vendor/plotly/plotly-locale-zh-cn.js"
    assert locale not in audit(admin_web.get("/dashboard").get_data(as_text=True)).sources
    admin_web.post("/language", data={"lang": "zh", "next": "/dashboard", "csrf_token": csrf_token(admin_web)})
    sources = audit(admin_web.get("/dashboard").get_data(as_text=True)).sources
    assert sources.index("/vendor/plotly.min.js") < sources.index(locale)
    response = admin_web.get(locale)
    assert response.status_code == 200 and b'name:"zh-CN"' in response.data
    response.close()


def test_the_vendored_plotly_locale_matches_the_plotly_js_the_package_ships():
    from insurecrm.web import PLOTLY_JS

    with PLOTLY_JS.open() as script:
        shipped = re.search(r"plotly\.js v(\S+)", script.read(200)).group(1)
    vendored = (ROOT / "insurecrm/static/vendor/plotly/VERSION").read_text()
    assert vendored.startswith(f"plotly.js {shipped} "), "update plotly-locale-zh-cn.js with the plotly package"


def test_the_api_docs_start_swagger_ui_from_a_static_file(client):
    response = client.get("/api/v1/docs")
    html = response.get_data(as_text=True)
    found = audit(html)
    assert found.blocked == [] and found.data_blocks == 1
    assert "/static/js/swagger-ui-init.js" in found.sources
    assert '"url": "/api/v1/openapi.json"' in html and '"validatorUrl": null' in html
    script = client.get("/static/js/swagger-ui-init.js")
    assert script.status_code == 200
    script.close()


def test_htmx_is_configured_to_need_no_eval_and_inject_no_style(client):
    html = client.get("/login").get_data(as_text=True)
    assert ('<meta name="htmx-config" content=\'{"allowEval": false, "allowScriptTags": false, '
            '"includeIndicatorStyles": false}\'>') in html
