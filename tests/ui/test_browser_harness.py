"""The browser harness against the real daemon: its offline Swagger UI at /api/docs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.browser import Browser, start_browser
from zaphubd.http.docs import SPEC_URL

Api = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HOST = "gateway.example.org"


async def test_swagger_ui_renders_from_the_daemon_alone(api: Api, tmp_path: Path) -> None:
    client = await api()
    spec = await (await client.get(SPEC_URL)).json()
    # Reached by a host name, as users do: Swagger UI's online validator would call out
    # (it stays quiet for localhost and 127.0.0.1 only).
    base = str(client.make_url("/")).replace("127.0.0.1", HOST)
    browser = await start_browser(tmp_path / "screenshots", hosts={HOST: "127.0.0.1"})
    try:
        await _check_swagger_ui(browser, base, spec["info"]["title"])
    finally:
        await browser.close()


async def _check_swagger_ui(browser: Browser, base: str, title: str) -> None:
    await browser.open(base + "api/docs")
    await browser.wait_for(".info .title", text=title)
    shot = await browser.screenshot("swagger-ui")

    assert await browser.console_errors() == []
    # Seeing the spec fetched proves the request log works, so an empty foreign list means
    # no CDN, not a blind log.
    assert base + SPEC_URL.lstrip("/") in await browser.requests()
    assert await browser.foreign_requests(base) == []
    assert shot.read_bytes().startswith(PNG_SIGNATURE)
