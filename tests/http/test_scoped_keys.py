"""Session API keys: created by the admin, shown once, checked on every route.

Every route of the app is tried with a key of each scope, with a key of another session,
and with the admin key; what each route needs comes from its own declaration, and a route
without one would show up here as admin-only.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from zaphubd.db.api_keys import SCOPES
from zaphubd.http.auth import ADMIN, ANY_KEY, route_scope

ADMIN_KEY = "admin-key-0123456789abcdef0123"
Client = TestClient[web.Request, web.Application]
#: The admin-only routes that are not in the OpenAPI document (no `documented` decorator).
UNDOCUMENTED = {("GET", "/metrics"), ("*", "/api/v1/sessions/stats")}


def admin(client: Client) -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def new_session(client: Client, label: str) -> str:
    resp = await client.post("/api/v1/sessions", json={"label": label}, headers=admin(client))
    assert resp.status == 201, await resp.text()
    sid: str = (await resp.json())["data"]["id"]
    return sid


async def new_key(client: Client, sid: str, scopes: list[str]) -> dict[str, Any]:
    body = {"name": "+".join(scopes), "session_id": sid, "scopes": scopes}
    resp = await client.post("/api/v1/keys", json=body, headers=admin(client))
    assert resp.status == 201, await resp.text()
    data: dict[str, Any] = (await resp.json())["data"]
    return data


def routes(client: Client) -> list[tuple[str, str, Any]]:
    """(method, path template, handler) of every authenticated route."""
    found = []
    for route in client.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path")
        if (
            not path
            or route.method == "HEAD"
            or path.startswith(("/api/docs", "/api/v1/health", "/ui"))
        ):
            continue
        found.append((route.method, path, route.handler))
    # Deleting the session last: the routes after it would only find it gone.
    return sorted(found, key=lambda r: (r[0], r[1]) == ("DELETE", "/api/v1/sessions/{id}"))


def concrete(path: str, sid: str) -> str:
    ids = {"messageId": "m-1", "keyId": uuid.uuid4(), "contactId": "5511999990001"}
    ids |= {"groupId": "120363000000000001", "action": "add", "webhookId": uuid.uuid4()}
    ids["chatId"] = "5511900000000"
    return path.format(id=sid, **ids)


async def call(client: Client, method: str, path: str, key: str) -> tuple[int, str]:
    kwargs: dict[str, Any] = {"headers": bearer(key)}
    if method in ("POST", "PATCH", "PUT"):
        kwargs["json"] = {}
    resp = await client.request("GET" if method == "*" else method, path, **kwargs)
    if resp.content_type == "text/event-stream":  # an open event stream: it never ends
        resp.close()
        return resp.status, ""
    body = await resp.text()
    return resp.status, body


@pytest.fixture
async def keyed(api: Any) -> tuple[Client, str, str]:
    client = await api(api_key=ADMIN_KEY)
    return client, await new_session(client, "a"), await new_session(client, "b")


async def test_every_route_declares_what_it_needs(keyed: tuple[Client, str, str]) -> None:
    client, _, _ = keyed
    undeclared = {(m, p) for m, p, h in routes(client) if getattr(h, "zaphub_scope", None) is None}
    assert undeclared == UNDOCUMENTED  # admin-only by default, and nothing else undeclared
    spec = await (await client.get("/api/docs/openapi.json")).json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path != "/api/v1/health":
                assert operation["x-scope"] in (*SCOPES, ADMIN, ANY_KEY), (method, path)
                assert "**Key:**" in operation["description"], (method, path)
                assert "403" in operation["responses"], (method, path)


@pytest.mark.parametrize("scope", SCOPES)
async def test_a_key_of_one_scope_on_every_route(
    keyed: tuple[Client, str, str], scope: str
) -> None:
    client, sid, _ = keyed
    key = (await new_key(client, sid, [scope]))["key"]
    for method, template, handler in routes(client):
        needs = route_scope(handler)
        status, body = await call(client, method, concrete(template, sid), key)
        where = (scope, method, template, status, body[:200])
        if needs == ADMIN:
            assert status == 403 and "admin key" in body, where
        elif needs in (scope, ANY_KEY):
            assert status not in (401, 403), where
            assert not (status == 404 and f"session {sid} not found" in body), where
        else:
            assert status == 403 and f"lacks the '{needs}' scope" in body, where


async def test_a_key_of_another_session_finds_nothing(keyed: tuple[Client, str, str]) -> None:
    client, sid, other = keyed
    key = (await new_key(client, other, list(SCOPES)))["key"]
    for method, template, _handler in routes(client):
        if "{id}" not in template:
            continue
        status, body = await call(client, method, concrete(template, sid), key)
        assert status == 404, (method, template, status, body)
        assert f"session {sid} not found" in body  # the answer an unknown session gets
    listing = await client.get("/api/v1/sessions", headers=bearer(key))
    assert [s["id"] for s in (await listing.json())["data"]] == [other]


async def test_the_admin_key_passes_every_route(keyed: tuple[Client, str, str]) -> None:
    client, sid, _ = keyed
    for method, template, _handler in routes(client):
        status, body = await call(client, method, concrete(template, sid), ADMIN_KEY)
        assert status not in (401, 403), (method, template, status, body)


async def test_keys_are_shown_once_listed_without_secret_and_revocable(
    keyed: tuple[Client, str, str],
) -> None:
    client, sid, _ = keyed
    created = await new_key(client, sid, ["send", "read", "send"])
    assert created["key"].startswith("zk_") and len(created["key"]) > 40
    assert created["scopes"] == ["read", "send"]
    assert created["key"].startswith(created["prefix"])
    key = created["key"]
    listing = await (await client.get("/api/v1/keys", headers=admin(client))).json()
    assert key not in str(listing) and listing["data"][0]["prefix"] == created["prefix"]
    mine = await client.get(f"/api/v1/sessions/{sid}", headers=bearer(key))
    assert mine.status == 200
    revoked = await client.delete(f"/api/v1/keys/{created['id']}", headers=admin(client))
    assert revoked.status == 200 and (await revoked.json())["data"]["revoked_at"]

    async def refused() -> bool:
        resp = await client.get(f"/api/v1/sessions/{sid}", headers=bearer(key))
        return resp.status == 401

    for _ in range(40):  # a node trusts a key it has just seen for up to 2 s
        if await refused():
            break
        await asyncio.sleep(0.1)
    assert await refused()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "x", "session_id": "{sid}", "scopes": ["admin"]}, 400),
        ({"name": "x", "session_id": "{sid}", "scopes": []}, 400),
        ({"name": "", "session_id": "{sid}", "scopes": ["read"]}, 400),
        ({"name": "x", "session_id": "not-a-uuid", "scopes": ["read"]}, 400),
        ({"name": "x", "session_id": str(uuid.uuid4()), "scopes": ["read"]}, 404),
        ({"name": "x", "session_id": "{sid}", "scopes": ["read"], "extra": 1}, 400),
    ],
)
async def test_bad_key_requests_are_client_errors(
    keyed: tuple[Client, str, str], body: dict[str, Any], status: int
) -> None:
    client, sid, _ = keyed
    body = {k: v.replace("{sid}", sid) if isinstance(v, str) else v for k, v in body.items()}
    resp = await client.post("/api/v1/keys", json=body, headers=admin(client))
    assert resp.status == status, await resp.text()
    assert (await resp.json())["success"] is False


async def test_without_an_admin_key_there_are_no_session_keys(api: Any) -> None:
    client = await api()
    sid = (await (await client.post("/api/v1/sessions", json={"label": "a"})).json())["data"]["id"]
    resp = await client.post(
        "/api/v1/keys", json={"name": "x", "session_id": sid, "scopes": ["read"]}
    )
    assert resp.status == 409
    assert "ZAPHUB_API_KEY" in (await resp.json())["error"]["message"]
