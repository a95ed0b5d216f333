"""Friendly, localised error pages: 404, 403 and 500 speak the user's language and lead back."""

from __future__ import annotations

import pytest

from insurecrm.models import Role


@pytest.mark.parametrize(("language", "title", "back"), [("en", "Not found", "Back to the start page"),
                                                           ("zh", "未找到", "返回首页")])
def test_404_page_in_the_users_language(web, make, language, title, back):
    client = web(make.user(Role.AGENT, agent_id=make.agent().id, preferred_language=language))
    response = client.get("/policyholders/999999")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert title in html and back in html


def test_403_page_is_localised(web, make):
    client = web(make.user(Role.AGENT, agent_id=make.agent().id, preferred_language="zh"))
    response = client.get("/admin")
    assert response.status_code == 403
    assert "不允许" in response.get_data(as_text=True)


def test_500_page_hides_the_error_and_is_localised(app, web, make, monkeypatch):
    import policyholders.views

    def broken(*_args, **_kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(policyholders.views, "render_template", broken)
    client = web(make.user(Role.ADMIN, preferred_language="zh"))
    response = client.get("/policyholders")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "出错了" in html and "database on fire" not in html
