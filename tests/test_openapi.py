"""The OpenAPI description and its browsable docs, served without any CDN."""

from __future__ import annotations

import re


def test_openapi_describes_the_api(client, app):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["info"]["title"] == "InsureCRM API"
    assert "/api/v1/products" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_docs_page_loads_only_local_assets(client):
    html = client.get("/api/v1/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    for source in sources:
        assert source.startswith(("/static/vendor/swagger-ui/", "/static/js/")), source
        response = client.get(source)
        assert response.status_code == 200
        response.close()
