"""Every route under a session id: an unknown or deleted session is a 404 whatever the body,
and a session that cannot act (failed) is a 409 where the route needs it to act."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.gateway import Gateway, StartGateway

RECIPIENT = "5511988880000"


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # "{sid}" is replaced by the session id
    body: Any = None
    params: dict[str, str] = field(default_factory=dict)

    async def send(self, gw: Gateway, sid: str) -> tuple[int, dict[str, Any]]:
        params = {k: v.replace("{sid}", sid) for k, v in self.params.items()}
        resp = await gw.api.request(
            self.method,
            self.path.replace("{sid}", sid),
            json=self.body,
            params=params,
        )
        return resp.status, await resp.json()


S = "/api/v1/sessions/{sid}"
SEND = {"messageId": "scope-1", "to": RECIPIENT, "text": "hi"}
LEGACY = {"session": "{sid}", "to": RECIPIENT, "text": "hi"}
#: One call per route that takes a session id, with a valid body where it takes one.
VALID = [
    Call("GET", S),
    Call("PATCH", S, {"label": "renamed"}),
    Call("GET", S + "/qr"),
    Call("GET", S + "/status"),
    Call("POST", S + "/restart"),
    Call("POST", S + "/pair", {"phone": "5511999990000"}),
    Call("GET", S + "/events"),
    Call("POST", S + "/messages", SEND),
    Call("GET", S + "/messages"),
    Call("GET", S + "/messages/scope-1"),
    Call("GET", S + "/messages/scope-1/media"),
    Call("POST", S + "/presence", {"jid": RECIPIENT, "type": "composing"}),
    Call("POST", S + "/presence/subscribe", {"jid": RECIPIENT}),
    Call("GET", S + "/calls"),
    Call("POST", S + "/webhook/test", {"url": "https://example.com/hook"}),
    Call("GET", S + "/webhook/events"),
    Call("POST", S + "/webhook/retry", {"event": "message.received", "payload": {}}),
    Call("GET", "/baileys/send-message", params=LEGACY),
    Call("DELETE", S),
]
#: The same routes with bodies that are wrong in every way a body can be.
INVALID = [
    Call("PATCH", S, {}),
    Call("PATCH", S, {"label": ""}),
    Call("POST", S + "/pair", {"phone": "nope"}),
    Call("POST", S + "/pair", {}),
    Call("POST", S + "/messages", {"messageId": "a"}),
    Call("POST", S + "/messages", {"bogus": True}),
    Call("POST", S + "/presence", {"jid": "not a jid", "type": "dancing"}),
    Call("POST", S + "/presence", {}),
    Call("POST", S + "/presence/subscribe", {"jid": "not a jid"}),
    Call("POST", S + "/presence/subscribe", {"extra": 1}),
    Call("POST", S + "/webhook/test", {"url": "file:///etc/passwd"}),
    Call("POST", S + "/webhook/retry", {"bogus": 1}),
    Call("GET", "/baileys/send-message", params={"session": "{sid}", "to": RECIPIENT}),
]


@pytest.fixture
async def gw(gateway: StartGateway) -> Gateway:
    return await gateway()


async def _statuses(gw: Gateway, sid: str, calls: list[Call]) -> dict[str, tuple[int, str]]:
    seen: dict[str, tuple[int, str]] = {}
    for call in calls:
        status, body = await call.send(gw, sid)
        key = f"{call.method} {call.path} {call.body or call.params}"
        seen[key] = (status, body.get("error", {}).get("type", ""))
    return seen


def _not_404(seen: dict[str, tuple[int, str]]) -> dict[str, tuple[int, str]]:
    return {k: v for k, v in seen.items() if v != (404, "NotFoundError")}


async def test_unknown_session_is_404_for_every_body(gw: Gateway) -> None:
    seen = await _statuses(gw, str(uuid.uuid4()), VALID + INVALID)
    assert _not_404(seen) == {}


async def test_session_deleted_a_moment_ago_is_404(gw: Gateway) -> None:
    sid = (await gw.create())["id"]
    resp = await gw.api.delete(f"/api/v1/sessions/{sid}")
    assert resp.status == 200
    seen = await _statuses(gw, sid, VALID + INVALID)
    assert _not_404(seen) == {}
    listed = await (await gw.api.get("/api/v1/sessions")).json()
    assert sid not in [s["id"] for s in listed["data"]]


async def test_failed_session_is_409_where_it_must_act(gw: Gateway) -> None:
    await gw.net.post("/control/faults", {"refuse_connections": True})
    sid = (await gw.create(config={"retryLimit": 0}))["id"]
    await gw.wait_status(sid, "failed")
    acting = [c for c in VALID if c.method == "POST" and "/webhook/" not in c.path]
    acting = [c for c in acting if not c.path.endswith("/restart")]
    acting.append(Call("GET", "/baileys/send-message", params=LEGACY))
    seen = await _statuses(gw, sid, acting)
    assert {k: v for k, v in seen.items() if v != (409, "SessionNotReadyError")} == {}
    # Reading a failed session still works, and a body is judged before its state (400).
    assert (await gw.api.get(f"/api/v1/sessions/{sid}/messages")).status == 200
    status, _ = await Call("POST", S + "/presence", {"jid": "x", "type": "dancing"}).send(gw, sid)
    assert status == 400


async def test_a_repeated_message_id_on_an_unknown_session_is_404(gw: Gateway) -> None:
    sid = (await gw.create())["id"]
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/messages", json=SEND)
    assert resp.status == 201
    other = str(uuid.uuid4())
    resp = await gw.api.post(f"/api/v1/sessions/{other}/messages", json=SEND)
    assert resp.status == 404
    assert (await resp.json())["error"]["type"] == "NotFoundError"
    again = await gw.api.post(f"/api/v1/sessions/{sid}/messages", json=SEND)
    assert again.status == 200
    assert (await again.json())["data"]["messageId"] == "scope-1"
