"""Several webhooks per session, and the global webhook, end to end on simnet."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import uuid
from typing import Any

import pytest

from tests.gateway import Gateway, StartGateway, eventually
from tests.webhooks.conftest import (
    SECRET,
    StartReceiver,
    deliveries,
    emit,
    signed_with,
    webhook_gateway,
)
from zaphubd.errors import ConfigError
from zaphubd.settings import Settings
from zaphubd.webhooks.assembly import check_global
from zaphubd.webhooks.urlpolicy import WebhookUrlPolicy

OTHER_SECRET = "whsec-other-0123456789abcdef"
GLOBAL_SECRET = "whsec-global-0123456789abcdef"
NIL = str(uuid.UUID(int=0))
#: Deliveries to the failing webhook, and the healthy one's bound to get as many: a failing
#: webhook on the same host must not slow it (its lane is its own). Measured: about 0.2 s.
BURST = 40
BOUND_S = 2.0


async def call(gw: Gateway, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = await gw.api.request(method, "/api/v1" + path, json=body)
    return resp.status, await resp.json()


async def add(gw: Gateway, sid: str, **body: Any) -> dict[str, Any]:
    status, answer = await call(gw, "POST", f"/sessions/{sid}/webhooks", body)
    assert status == 201, answer
    data: dict[str, Any] = answer["data"]
    return data


async def listed(gw: Gateway, sid: str) -> list[dict[str, Any]]:
    status, answer = await call(gw, "GET", f"/sessions/{sid}/webhooks")
    assert status == 200, answer
    data: list[dict[str, Any]] = answer["data"]
    return data


async def test_errors_ssrf_cap_and_the_first_webhook(gateway: StartGateway) -> None:
    gw = await gateway(webhooks_per_session=2)
    sid = (await gw.create())["id"]
    nobody, nothing = uuid.uuid4(), uuid.uuid4()
    for method, path, body in [
        ("GET", f"/sessions/{nobody}/webhooks", None),
        ("POST", f"/sessions/{nobody}/webhooks", {"url": "nope"}),
        ("GET", f"/sessions/{nobody}/webhooks/{nothing}", None),
        ("PATCH", f"/sessions/{nobody}/webhooks/{nothing}", {"enabled": True}),
        ("DELETE", f"/sessions/{nobody}/webhooks/{nothing}", None),
        ("GET", f"/sessions/{sid}/webhooks/{nothing}", None),
        ("PATCH", f"/sessions/{sid}/webhooks/{nothing}", {"enabled": True}),
        ("DELETE", f"/sessions/{sid}/webhooks/{nothing}", None),
    ]:
        status, answer = await call(gw, method, path, body)
        assert status == 404 and answer["error"]["type"] == "NotFoundError", (method, path)
    for body, field in [
        ({"url": "ftp://hooks.example/h"}, "url"),
        ({"url": "http://127.0.0.1:9/h"}, "url"),  # the SSRF guard, as for webhook_url
        ({"url": "http://10.1.2.3/h"}, "url"),
        ({"url": "http://[::1]/h"}, "url"),
        ({"url": "http://user:pw@hooks.example/h"}, "url"),
        ({"url": "http://localhost/h"}, "url"),
        ({"events": ["message.*"]}, "url"),
        ({"url": "https://hooks.example/h", "events": ["nope.*"]}, "events.0"),
        ({"url": "https://hooks.example/h", "secret": "short"}, "secret"),
        ({"url": "https://hooks.example/h", "colour": "red"}, "colour"),
    ]:
        status, answer = await call(gw, "POST", f"/sessions/{sid}/webhooks", body)
        assert status == 400, (body, answer)
        assert field in answer["error"]["details"], (body, answer)
    status, answer = await call(gw, "GET", "/sessions/nope/webhooks")
    assert status == 400
    status, answer = await call(gw, "GET", f"/sessions/{sid}/webhooks/nope")
    assert status == 400

    quiet = {"url": "https://one.example/h", "secret": OTHER_SECRET, "events": ["call.*"]}
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/webhooks", json=quiet)
    assert resp.status == 201 and OTHER_SECRET not in await resp.text()  # never echoed
    one = (await resp.json())["data"]
    assert one["has_secret"] is True and one["enabled"] is True and one["first"] is False
    assert one["events"] == ["call.*"] and "secret" not in one
    await add(gw, sid, url="https://two.example/h", events=["call.*"])
    status, answer = await call(gw, "POST", f"/sessions/{sid}/webhooks", quiet)
    assert status == 409 and answer["error"]["type"] == "ConflictError"
    for body in [{}, {"url": "http://169.254.169.254/latest"}, {"events": ["x"]}]:
        status, answer = await call(gw, "PATCH", f"/sessions/{sid}/webhooks/{one['id']}", body)
        assert status == 400, (body, answer)
    status, answer = await call(
        gw, "PATCH", f"/sessions/{sid}/webhooks/{one['id']}", {"events": None, "secret": None}
    )
    assert status == 200 and answer["data"]["events"] is None
    assert answer["data"]["has_secret"] is False

    # The session's webhook_url is the first webhook: set by PATCH, listed first, and
    # changed or deleted through either route.
    status, _ = await call(gw, "PATCH", f"/sessions/{sid}", {"webhook_url": "https://0.example/h"})
    assert status == 200
    first, *others = await listed(gw, sid)
    assert first["first"] is True and first["url"] == "https://0.example/h"
    assert [o["url"] for o in others] == ["https://one.example/h", "https://two.example/h"]
    body = {"url": "https://zero.example/h", "events": ["call.offer"], "secret": SECRET}
    status, answer = await call(gw, "PATCH", f"/sessions/{sid}/webhooks/{first['id']}", body)
    assert status == 200 and answer["data"]["id"] == first["id"], answer
    session = await gw.session(sid)
    assert session["webhook_url"] == "https://zero.example/h"
    assert session["config"]["webhookEvents"] == ["call.offer"]
    assert session["has_webhook_secret"] is True
    path = f"/sessions/{sid}/webhooks/{first['id']}"
    status, answer = await call(gw, "PATCH", path, {"enabled": False})
    assert status == 200 and answer["data"]["enabled"] is False
    await call(gw, "PATCH", f"/sessions/{sid}", {"webhook_url": None})
    await call(gw, "PATCH", f"/sessions/{sid}", {"webhook_url": "https://zero.example/h"})
    assert (await listed(gw, sid))[0]["enabled"] is True  # a URL set anew: a new webhook
    status, answer = await call(gw, "DELETE", f"/sessions/{sid}/webhooks/{first['id']}")
    assert status == 200 and answer["data"] == {"id": first["id"], "deleted": True}
    session = await gw.session(sid)
    assert session["webhook_url"] is None and "webhookEvents" not in session["config"]
    assert [w["url"] for w in await listed(gw, sid)] == [o["url"] for o in others]
    status, _ = await call(gw, "GET", f"/sessions/{sid}/webhooks/{first['id']}")
    assert status == 404


async def test_each_webhook_gets_its_own_filter_secret_lane_and_switches(
    gateway: StartGateway, receiver_factory: StartReceiver
) -> None:
    gw = await webhook_gateway(gateway)
    main = await receiver_factory()
    shared = await receiver_factory(failing_paths={"/dead"})  # two webhooks, one host:port
    dead_url = shared.url.replace("/hook", "/dead")
    sid = (await gw.create(config={"webhookEvents": ["chat.*"]}))["id"]
    patch = {"webhook_url": main.url, "webhook_secret": SECRET}
    status, _ = await call(gw, "PATCH", f"/sessions/{sid}", patch)
    assert status == 200
    other = await add(
        gw, sid, url=shared.url, secret=OTHER_SECRET, events=["presence.*", "chat.presence"]
    )
    dead = await add(gw, sid, url=dead_url, events=["chat.*"])
    first = (await listed(gw, sid))[0]
    assert first["first"] is True and first["url"] == main.url

    await emit(gw, sid, "presence.update", {"jid": "a"})
    await emit(gw, sid, "chat.presence", {"n": -1})
    [chat] = await main.wait_for("chat.presence")
    [theirs] = await shared.wait_for("chat.presence", path="/hook")
    await shared.wait_for("presence.update", path="/hook")
    assert signed_with(chat, SECRET) and signed_with(theirs, OTHER_SECRET)
    assert chat.json["payload"] == theirs.json["payload"] == {"n": -1}
    assert chat.json["deliveryId"] != theirs.json["deliveryId"]
    assert chat.json["sessionId"] == theirs.json["sessionId"] == sid
    assert main.of("presence.update") == []  # not in its filter

    # A webhook that fails every delivery on the same host does not slow the other one.
    started = time.monotonic()
    await asyncio.gather(*(emit(gw, sid, "chat.presence", {"n": n}) for n in range(BURST)))
    got = await shared.wait_for("chat.presence", BURST + 1, timeout_s=BOUND_S + 5, path="/hook")
    delay_s = max(r.at for r in got) - started
    assert delay_s < BOUND_S, f"the healthy webhook waited {delay_s:.2f}s"
    assert len(shared.of("chat.presence", "/dead")) > 1  # failing (the rest put back)
    _, delivered = await deliveries(gw, sid, webhookId=dead["id"], status="delivered")
    assert delivered == 0
    mine, total = await deliveries(gw, sid, webhookId=other["id"], limit=200)
    assert total == BURST + 2 and {d["webhook_id"] for d in mine} == {other["id"]}
    assert {d["url"] for d in mine} == {shared.url}
    firsts, total = await deliveries(gw, sid, webhookId=first["id"], limit=200)
    assert total == BURST + 1 and {d["url"] for d in firsts} == {main.url}

    # Disabled: nothing more; deleted: gone, and nothing more either.
    await call(gw, "PATCH", f"/sessions/{sid}/webhooks/{other['id']}", {"enabled": False})
    status, _ = await call(gw, "DELETE", f"/sessions/{sid}/webhooks/{dead['id']}")
    assert status == 200
    before = len(shared.received)
    await emit(gw, sid, "chat.presence", {"n": "after"})
    await main.wait_for("chat.presence", BURST + 2)
    await asyncio.sleep(0.3)  # the same event's other deliveries were written with main's
    assert len(shared.received) == before
    _, total = await deliveries(gw, sid, webhookId=other["id"])
    assert total == BURST + 2
    assert [w["id"] for w in await listed(gw, sid)] == [first["id"], other["id"]]

    # Queued by hand to a named webhook (enabled again).
    await call(gw, "PATCH", f"/sessions/{sid}/webhooks/{other['id']}", {"enabled": True})
    body = {"event": "chat.presence", "payload": {"n": "manual"}, "webhook_id": other["id"]}
    status, answer = await call(gw, "POST", f"/sessions/{sid}/webhook/retry", body)
    assert status == 202, answer
    await shared.wait_for("chat.presence", BURST + 2, path="/hook")
    body["webhook_id"] = str(uuid.uuid4())
    status, _ = await call(gw, "POST", f"/sessions/{sid}/webhook/retry", body)
    assert status == 404


async def test_the_global_webhook_gets_every_sessions_events(
    gateway: StartGateway, receiver_factory: StartReceiver
) -> None:
    hook = await receiver_factory()
    gw = await webhook_gateway(
        gateway,
        global_webhook_url=hook.url,
        global_webhook_secret=GLOBAL_SECRET,
        global_webhook_events="session.initializing",
    )
    sids = {(await gw.create())["id"] for _ in range(2)}
    got = await hook.wait_for("session.initializing", 2)
    assert {r.json["sessionId"] for r in got} == sids
    assert all(signed_with(r, GLOBAL_SECRET) for r in got)
    sid = sids.pop()
    await emit(gw, sid, "chat.presence", {"n": 1})  # outside its filter
    items, total = await deliveries(gw, sid, webhookId=NIL)
    assert total == 1 and items[0]["webhook_id"] == NIL and items[0]["url"] == hook.url
    assert items[0]["event"] == "session.initializing"
    assert await listed(gw, sid) == []  # not a session's webhook

    async def reported() -> list[dict[str, Any]]:
        return await gw.events(sid, type="webhook")

    [delivered] = await eventually(reported)
    assert delivered["event_type"] == "webhook.delivered"
    assert delivered["payload"]["webhookId"] == NIL


async def test_a_global_url_that_resolves_to_a_private_address_stops_the_start() -> None:
    host = socket.gethostname()  # this machine's name resolves to one of its own addresses
    try:
        address = ipaddress.ip_address(socket.gethostbyname(host))
    except OSError:
        pytest.skip("this machine's name does not resolve")
    if address.is_global:
        pytest.skip("this machine's name resolves to a public address")
    settings = Settings(database_url="postgresql://x@h/db", global_webhook_url=f"http://{host}/")
    with pytest.raises(ConfigError, match="ZAPHUB_GLOBAL_WEBHOOK_URL refused"):
        await check_global(settings, WebhookUrlPolicy(allow_private=False))
    await check_global(settings, WebhookUrlPolicy(allow_private=True))
