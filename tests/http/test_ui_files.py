"""The dashboard's files: public, with a strict Content-Security-Policy, and no path out of
their folder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.gateway import Api

KEY = "ui-files-admin-key-0123456789abcdef"


async def test_the_page_is_public_and_locked_down(api: Callable[..., Awaitable[Api]]) -> None:
    client = await api(api_key=KEY)
    page = await client.get("/ui")
    assert page.status == 200 and page.content_type == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "connect-src 'self'" in csp and "unsafe-inline" not in csp
    script = await client.get("/ui/static/app.js")
    assert script.status == 200 and "textContent" in await script.text()
    sessions = await client.get("/api/v1/sessions")
    assert sessions.status == 401  # the page is public; the data is not


@pytest.mark.parametrize(
    "path",
    [
        "/ui/static/..%2f..%2fsettings.py",
        "/ui/static/%2e%2e/ui.py",
        "/ui/static/.hidden",
        "/ui/static/nope.js",
        "/ui/static/index.html",
    ],
)
async def test_nothing_outside_the_folder(api: Callable[..., Awaitable[Api]], path: str) -> None:
    client = await api(api_key=KEY)
    resp = await client.get(path)
    assert resp.status in (401, 404), path
    assert "BaseSettings" not in await resp.text()
