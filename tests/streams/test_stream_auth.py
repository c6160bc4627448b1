"""Who may read which stream: a session key only its own session's events; a stream token
opens the one stream it was issued for and nothing else, and stands for its key. And in a
cluster, a stream on one node carries what another node's sessions do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.gateway import Api, StartGateway
from tests.sse import SseReader

ADMIN_KEY = "admin-key-stream-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ME, OTHER, FRIEND = "5511900000131", "5511900000132", "5511988880131"


async def post(api: Api, path: str, body: Any, headers: dict[str, str]) -> Any:
    resp = await api.post(path, json=body, headers=headers)
    assert resp.status in (200, 201), await resp.text()
    return (await resp.json())["data"]


async def test_a_token_opens_its_stream_only_and_a_session_key_sees_its_session(
    gateway: StartGateway,
) -> None:
    gw = await gateway(api_key=ADMIN_KEY)
    mine = await post(gw.api, "/api/v1/sessions", {"label": "mine"}, ADMIN)
    other = await post(gw.api, "/api/v1/sessions", {"label": "other"}, ADMIN)
    body = {"name": "reader", "session_id": mine["id"], "scopes": ["read"]}
    key = (await post(gw.api, "/api/v1/keys", body, ADMIN))["key"]
    reader = {"Authorization": f"Bearer {key}"}

    grant = await post(gw.api, "/api/v1/events/stream-token", {}, reader)
    assert grant["expiresIn"] == 60 and grant["url"].startswith("/api/v1/events/stream?token=")
    assert key not in str(grant)
    resp = await gw.api.get(grant["url"], params={"types": "session.*"})
    assert resp.status == 200, await resp.text()
    stream = SseReader(resp)
    for sid in (other["id"], mine["id"]):  # a restart writes session events for each
        await post(gw.api, f"/api/v1/sessions/{sid}/restart", {}, ADMIN)
    seen = {f.data["session_id"] for f in await stream.events(2)}
    assert seen == {mine["id"]}  # the other session's events never reach this key

    token = grant["token"]
    for path in (
        f"/api/v1/sessions/{mine['id']}",  # another route
        f"/api/v1/sessions/{mine['id']}/events/stream",  # another stream
        f"/api/v1/sessions/{mine['id']}/events",
    ):
        resp = await gw.api.get(path, params={"token": token})
        assert resp.status == 401, (path, await resp.text())
    resp = await gw.api.get("/api/v1/events/stream", params={"token": "x" * 43})
    assert resp.status == 401 and "stream token" in await resp.text()

    resp = await gw.api.post(
        "/api/v1/events/stream-token", json={"sessionId": other["id"]}, headers=reader
    )
    assert resp.status == 404  # never reveals that the other session exists
    one = await post(gw.api, "/api/v1/events/stream-token", {"sessionId": mine["id"]}, reader)
    resp = await gw.api.get(one["url"])
    assert resp.status == 200
    resp.close()
    resp = await gw.api.get("/api/v1/events/stream", params={"token": one["token"]})
    assert resp.status == 401  # a session stream's token does not open the all-sessions one


async def test_a_stream_on_one_node_carries_another_nodes_events(
    gateway: StartGateway, api: Callable[..., Awaitable[Api]]
) -> None:
    gw = await gateway(node_id="node-a")
    other_node = await api(node_id="node-b", transport="simnet", simnet_url=gw.net.url)
    resp = await other_node.get("/api/v1/events/stream", params={"types": "message.received"})
    assert resp.status == 200
    stream = SseReader(resp)
    sid = (await gw.connect(ME))["id"]
    body = {"from": FRIEND, "to": ME, "id": "X1", "message": {"type": "text", "text": "x"}}
    await gw.net.post("/control/inbound", body)
    [frame] = await stream.events(1)
    assert frame.data["session_id"] == sid and frame.data["payload"]["messageId"] == "X1"


async def test_a_revoked_keys_stream_ends(gateway: StartGateway) -> None:
    gw = await gateway(api_key=ADMIN_KEY, stream_heartbeat_s=1)
    sid = (await post(gw.api, "/api/v1/sessions", {"label": "x"}, ADMIN))["id"]
    body = {"name": "reader", "session_id": sid, "scopes": ["read"]}
    key = await post(gw.api, "/api/v1/keys", body, ADMIN)
    resp = await gw.api.get(
        "/api/v1/events/stream", headers={"Authorization": f"Bearer {key['key']}"}
    )
    assert resp.status == 200
    stream = SseReader(resp)
    revoked = await gw.api.delete(f"/api/v1/keys/{key['id']}", headers=ADMIN)
    assert revoked.status == 200
    # The session's own events may come first (a QR code): the close frame ends the stream.
    while (frame := await stream.frame(timeout_s=5)) is not None and frame.event != "close":
        pass
    assert frame is not None and frame.event == "close"
    assert frame.data["reason"] == "revoked"
    assert await stream.frame() is None  # and the stream is over
