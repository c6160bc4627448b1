"""Hostile and malformed input against the in-process daemon: auth on every route, limits,
path tricks, and the SSRF guard reached through the API."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from aiohttp import web

from tests.gateway import Gateway, StartGateway, eventually

KEY = "hostile-api-key-0123456789abcdef"
PUBLIC = {
    "/api/v1/health",
    "/api/docs",
    "/api/docs/openapi.json",
    "/ui",
}  # the dashboard page holds no data


def concrete_routes(app: web.Application) -> list[tuple[str, str]]:
    """Every (method, path) the router serves, with a valid UUID in each placeholder."""
    routes = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if not path or route.method == "HEAD":
            continue
        path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        routes.append((route.method if route.method != "*" else "PATCH", path))
    return routes


@pytest.fixture
async def locked(gateway: StartGateway) -> Gateway:
    return await gateway(api_key=KEY)


async def test_every_route_but_health_and_docs_needs_the_key(locked: Gateway) -> None:
    routes = concrete_routes(locked.api.server.app)
    assert len(routes) > 20, routes  # the router really was enumerated
    checked = 0
    for method, path in routes:
        if path in PUBLIC or path.startswith(("/api/docs/static", "/ui/")):
            continue
        for headers in ({}, {"Authorization": "Bearer " + "wrong" * 8}, {"Authorization": KEY}):
            resp = await locked.api.request(method, path, headers=headers, json={})
            assert resp.status == 401, (method, path, headers, resp.status)
            assert (await resp.json())["error"]["type"] == "UnauthorizedError"
        wrong_query = await locked.api.request(method, path, params={"api_key": "x" * 32}, json={})
        assert wrong_query.status == 401, (method, path)
        checked += 1
    assert checked >= 20
    for path in PUBLIC:
        assert (await locked.api.get(path)).status == 200, path


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sessions/..%2F..%2Fetc%2Fpasswd/status",
        "/api/v1/sessions/%2e%2e/%2e%2e/health/status",
        "/api/v1/sessions//status",
        "/api/v1/sessions/abc%2Fdef/status",
        "/api/docs/static/../../../../etc/passwd",
        "/api/docs/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/api/v1/sessions/{sid}/..%2F..%2Fsessions/status",
    ],
)
async def test_path_tricks_reach_no_other_session_and_no_file(
    gateway: StartGateway, path: str
) -> None:
    gw = await gateway()
    sid = (await gw.create(label="victim"))["id"]
    resp = await gw.api.get(path.replace("{sid}", sid))
    body = await resp.read()
    assert 400 <= resp.status < 500, (path, resp.status)
    assert b"root:" not in body and b"victim" not in body


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"{" + b'"a":' * 200_000 + b"1" + b"}" * 200_000, {"Content-Type": "application/json"}),
        (b'{"label": "\xff\xfe"}', {"Content-Type": "application/json"}),
        (b"<xml/>", {"Content-Type": "application/xml"}),
        (b'{"label": "x"}', {"Content-Type": "text/plain"}),
        (b"", {"Content-Type": "application/json"}),
        (b"null", {"Content-Type": "application/json"}),
        (b'"just a string"', {"Content-Type": "application/json"}),
        (b'{"label": ' + b'"' + b"a" * 100_000 + b'"}', {"Content-Type": "application/json"}),
    ],
)
async def test_hostile_bodies_are_4xx(
    gateway: StartGateway, body: bytes, headers: dict[str, str]
) -> None:
    gw = await gateway(http_max_body_bytes=4 * 1024 * 1024)
    resp = await gw.api.post("/api/v1/sessions", data=body, headers=headers)
    assert 400 <= resp.status < 500, resp.status
    assert (await resp.json())["success"] is False


async def test_bodies_over_the_limit_are_413_on_every_write_route(gateway: StartGateway) -> None:
    gw = await gateway(http_max_body_bytes=64 * 1024)
    sid = (await gw.create())["id"]
    big = b'{"messageId": "x", "to": "5511999999999", "text": "' + b"a" * 70_000 + b'"}'
    for path in (
        "/api/v1/sessions",
        f"/api/v1/sessions/{sid}/messages",
        f"/api/v1/sessions/{sid}/pair",
    ):
        resp = await gw.api.post(path, data=big, headers={"Content-Type": "application/json"})
        assert resp.status == 413, path
        assert (await resp.json())["error"]["type"] == "PayloadTooLargeError"


async def test_nul_characters_are_400_in_bodies_queries_and_paths(gateway: StartGateway) -> None:
    """Postgres cannot store U+0000 in text or jsonb: it must be a client error, not a 500."""
    gw = await gateway()
    sid = (await gw.connect("5511966660001"))["id"]
    base = "/api/v1/sessions"
    to = "5511966660002"
    attempts: list[tuple[str, str, Any, dict[str, str] | None]] = [
        ("POST", base, {"label": "a\x00b"}, None),
        ("PATCH", f"{base}/{sid}", {"label": "x", "config": {"webhookEvents": ["x\x00"]}}, None),
        ("POST", f"{base}/{sid}/messages", {"messageId": "n1", "to": to, "text": "\x00"}, None),
        (
            "POST",
            f"{base}/{sid}/messages",
            {"messageId": "n2", "to": to, "text": "t", "metadata": {"k\x00": 1}},
            None,
        ),
        ("GET", f"{base}/{sid}/messages/abc%00def", None, None),
        ("GET", "/baileys/send-message", None, {"session": sid, "to": to, "text": "a\x00"}),
    ]
    for method, path, body, params in attempts:
        resp = await gw.api.request(method, path, json=body, params=params)
        assert resp.status == 400, (method, path, body, params, resp.status, await resp.text())
        error = (await resp.json())["error"]
        assert error["type"] == "ValidationError" and "NUL" in error["message"], error
    # A backslash followed by "u0000" is ordinary text, not a NUL.
    ok = await gw.api.post(
        f"{base}/{sid}/messages", json={"messageId": "n3", "to": to, "text": "C:\\u0000"}
    )
    assert ok.status == 201, await ok.text()


async def test_huge_query_strings_and_headers_are_4xx(gateway: StartGateway) -> None:
    gw = await gateway()
    long_query = await gw.api.get("/api/v1/sessions", params={"status": "x" * 20_000})
    assert 400 <= long_query.status < 500
    huge_header = await gw.api.get("/api/v1/sessions", headers={"X-Junk": "y" * 20_000})
    assert 400 <= huge_header.status < 500
    many = await gw.api.get("/api/v1/sessions", headers={f"X-H{i}": "v" for i in range(200)})
    assert many.status in (200, 400, 431)


SSRF_URLS = [
    "http://127.0.0.1/x.png",
    "http://[::1]/x.png",
    "http://10.1.2.3/x.png",
    "http://172.16.0.1/x.png",
    "http://192.168.1.1/x.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost/x.png",
    "http://media.localhost/x.png",
    "http://2130706433/x.png",
    "http://0x7f000001/x.png",
    "http://[::ffff:127.0.0.1]/x.png",
    "http://[::ffff:a9fe:a9fe]/x.png",
]


async def test_media_urls_to_private_addresses_are_refused(gateway: StartGateway) -> None:
    """Refused either at once (400: not an acceptable URL) or by the send worker (dlq)."""
    gw = await gateway(media_allow_private=False)
    sid = (await gw.connect("5511950000000"))["id"]
    accepted = []
    for n, url in enumerate(SSRF_URLS):
        resp = await gw.api.post(
            f"/api/v1/sessions/{sid}/messages",
            json={"messageId": f"ssrf-{n}", "to": "5511950000001", "image": {"url": url}},
        )
        assert resp.status in (201, 400), url
        if resp.status == 201:
            accepted.append(url)
    assert len(accepted) >= len(SSRF_URLS) - 2  # most pass validation: the worker must refuse

    async def all_refused() -> list[dict[str, Any]] | None:
        resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages", params={"limit": 100})
        rows = (await resp.json())["data"]
        done = all(r["status"] == "dlq" for r in rows) and len(rows) == len(accepted)
        return rows if done else None

    rows = await eventually(all_refused, timeout_s=30)
    for row in rows:
        assert re.search(
            r"private|loopback|local|metadata|refused|link-local", row["error_message"]
        ), row
    assert await gw.net.mailbox("5511950000001") == []
