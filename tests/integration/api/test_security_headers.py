"""Security headers over real HTTP: the dashboard's strict CSP, no framing, no sniffing,
no referrer, on pages, static files, API answers and refusals alike; and templates that
keep the CSP workable (no inline script, style or event handler)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from atp.api.guards import CONTENT_SECURITY_POLICY
from atp.api.server import serve
from atp.web.routes import HERE
from tests.integration.api.conftest import AUTH, Api

SQLITE = pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)

COMMON = {"x-frame-options": "DENY", "x-content-type-options": "nosniff",
          "referrer-policy": "no-referrer"}


@pytest.fixture
async def http(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    server = await serve(api.app, "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            yield client
    finally:
        await server.stop()


@SQLITE
async def test_every_answer_carries_the_headers(http: httpx.AsyncClient) -> None:
    answers = [
        await http.get("/"),
        await http.get("/settings"),
        await http.get("/static/app.js"),
        await http.get("/static/app.css"),
        await http.get("/api/health"),
        await http.get("/no/such/page"),
        await http.put("/api/settings/live-trading", json={"enabled": True}),  # no token
        await http.patch("/api/presets/scalp-aggressive", content=b'{"sl_pct": NaN}',
                         headers={**AUTH, "Content-Type": "application/json"}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200, 404, 401, 422]
    for answer in answers:
        for name, value in COMMON.items():
            assert answer.headers.get(name) == value, (answer.url, name)
        assert answer.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY
        assert len(answer.headers.get_list("x-frame-options")) == 1


@SQLITE
async def test_the_csp_allows_only_the_dashboards_own_files(http: httpx.AsyncClient) -> None:
    csp = dict(d.strip().split(" ", 1) for d in
               (await http.get("/")).headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert not [v for v in csp.values() if "unsafe" in v or "*" in v]


@SQLITE
async def test_the_api_docs_keep_working_without_the_dashboard_csp(
    http: httpx.AsyncClient,
) -> None:
    # Swagger UI loads its bundle from a CDN and boots with an inline script
    docs = await http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("template", sorted(p.name for p in (HERE / "templates").iterdir()))
def test_templates_have_no_inline_script_style_or_handler(template: str) -> None:
    html = (HERE / "templates" / template).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html, "inline <style>"
    assert not re.search(r"\sstyle\s*=", html), "style= attribute"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert "javascript:" not in html
