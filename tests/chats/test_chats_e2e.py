"""Chats end to end on simnet: the list with last messages, one chat's pages, archive / pin /
mute through the API and from the phone, and every refusal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.gateway import Gateway, StartGateway, eventually
from tests.messaging.test_send import post, wait_message_status

ME = "5511977770000"
FRIEND = "5511944440000"
FRIEND_JID = f"{FRIEND}@s.whatsapp.net"
OTHER = "5511933330000"
OTHER_JID = f"{OTHER}@s.whatsapp.net"


async def get(gw: Gateway, path: str, status: int = 200, **params: Any) -> dict[str, Any]:
    resp = await gw.api.get(path, params=params)
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    return body


async def patch(gw: Gateway, path: str, body: Any, status: int = 200) -> dict[str, Any]:
    resp = await gw.api.patch(path, json=body)
    answer: dict[str, Any] = await resp.json()
    assert resp.status == status, answer
    return answer


async def chat_updates(gw: Gateway, sid: str, count: int) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        found = await gw.events(sid, event_type="chat.updated")
        return found if len(found) >= count else None

    result: list[dict[str, Any]] = await eventually(probe)
    return [e["payload"] for e in result]


async def seed(gw: Gateway, sid: str) -> None:
    """Three messages from FRIEND (Ana), then one sent to OTHER: OTHER is the newest chat."""
    for n in range(3):
        await gw.net.post(
            "/control/inbound",
            {
                "from": FRIEND,
                "to": ME,
                "message": {"type": "text", "text": f"hi {n}"},
                "id": f"IN{n}",
                "push_name": "Ana",
            },
        )
        await eventually(lambda n=n: _stored(gw, sid, f"IN{n}"))
    status, _ = await post(gw, sid, {"messageId": "out-1", "to": OTHER, "text": "hello"})
    assert status == 201
    await wait_message_status(gw, sid, "out-1", "sent", "delivered", "read")


async def _stored(gw: Gateway, sid: str, key: str) -> bool:
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/{key}")
    return resp.status == 200


async def test_chats_list_page_and_change_both_ways(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect(ME))["id"]
    base = f"/api/v1/sessions/{sid}/chats"
    await seed(gw, sid)

    # The list: newest chat first, each with its last message and the contact's name.
    listed = await get(gw, base)
    assert [c["jid"] for c in listed["data"]] == [OTHER_JID, FRIEND_JID]
    other, friend = listed["data"]
    assert other["lastMessage"]["messageId"] == "out-1" and other["name"] is None
    assert friend["lastMessage"]["content"] == {"text": "hi 2"} and friend["name"] == "Ana"
    assert (friend["archived"], friend["pinned"], friend["muted"]) == (False, False, False)
    assert listed["pagination"] == {"limit": 50, "has_more": False, "next_cursor": None}
    first = await get(gw, base, limit=1)
    assert [c["jid"] for c in first["data"]] == [OTHER_JID]
    assert first["pagination"]["has_more"] is True
    second = await get(gw, base, limit=1, cursor=first["pagination"]["next_cursor"])
    assert [c["jid"] for c in second["data"]] == [FRIEND_JID]
    assert second["pagination"]["has_more"] is False

    # One chat's messages (a bare number works), newest first, older and newer pages.
    msgs = f"{base}/{FRIEND}/messages"
    newest = await get(gw, msgs, limit=2)
    assert [m["messageId"] for m in newest["data"]] == ["IN2", "IN1"]
    assert newest["pagination"]["has_more"] is True
    older = await get(gw, msgs, limit=2, before=newest["pagination"]["before"])
    assert [m["messageId"] for m in older["data"]] == ["IN0"]
    assert older["pagination"]["has_more"] is False
    newer = await get(gw, msgs, limit=1, after=older["pagination"]["after"])
    assert [m["messageId"] for m in newer["data"]] == ["IN1"]
    assert newer["pagination"]["has_more"] is True

    # Through the API: archived on WhatsApp (the account's state), recorded, announced.
    changed = await patch(gw, f"{base}/{FRIEND_JID}", {"archived": True})
    assert changed["data"] == {
        "jid": FRIEND_JID,
        "archived": True,
        "pinned": False,
        "muted": False,
        "mutedUntil": None,
    }
    state = await gw.net.get(f"/control/chat-settings/{ME}")
    assert state[FRIEND_JID]["archived"] is True
    until = (datetime.now(UTC) + timedelta(hours=8)).replace(microsecond=0)
    muted = await patch(gw, f"{base}/{OTHER}", {"pinned": True, "mutedUntil": until.isoformat()})
    assert muted["data"]["pinned"] is True and muted["data"]["muted"] is True
    assert datetime.fromisoformat(muted["data"]["mutedUntil"]) == until
    state = await gw.net.get(f"/control/chat-settings/{ME}")
    assert state[OTHER_JID]["muted_until"] == int(until.timestamp() * 1000)
    archived = await get(gw, base, archived="true")
    assert [c["jid"] for c in archived["data"]] == [FRIEND_JID]
    assert [c["jid"] for c in (await get(gw, base, archived="false"))["data"]] == [OTHER_JID]
    updates = await chat_updates(gw, sid, 2)
    assert updates[0]["chatId"] == FRIEND_JID and updates[0]["source"] == "api"
    assert updates[0]["changed"] == ["archived"]
    assert updates[1]["changed"] == ["pinned", "muted", "mutedUntil"]
    # The same change again is no news.
    await patch(gw, f"{base}/{FRIEND_JID}", {"archived": True})

    # From the phone: unarchived and muted for good; the session learns it.
    await gw.net.post(
        "/control/chat-settings",
        {"phone": ME, "chat": FRIEND_JID, "archived": False, "muted": True},
    )
    updates = await chat_updates(gw, sid, 3)
    assert len(updates) == 3
    assert updates[2] == {
        "chatId": FRIEND_JID,
        "archived": False,
        "pinned": False,
        "muted": True,
        "mutedUntil": None,
        "changed": ["archived", "muted"],
        "source": "phone",
    }
    friend = next(c for c in (await get(gw, base))["data"] if c["jid"] == FRIEND_JID)
    assert (friend["archived"], friend["muted"], friend["mutedUntil"]) == (False, True, None)
    unmuted = await patch(gw, f"{base}/{FRIEND_JID}", {"mutedUntil": None})
    assert unmuted["data"]["muted"] is False

    # Another device of the account (a second session on the same phone) is told; the device
    # that made the change is not told back (WhatsApp's app-state sync).
    twin = (await gw.connect(ME))["id"]
    await patch(gw, f"{base}/{FRIEND_JID}", {"pinned": True})
    (told,) = await chat_updates(gw, twin, 1)
    assert (told["chatId"], told["pinned"], told["changed"]) == (FRIEND_JID, True, ["pinned"])
    assert told["source"] == "phone"
    assert [u["source"] for u in await chat_updates(gw, sid, 5)] == ["api"] * 2 + ["phone"] + [
        "api"
    ] * 2
    activity = await gw.net.get(f"/control/activity/{ME}")
    assert [a["chat"] for a in activity["activity"] if a["action"] == "chat_settings"] == [
        FRIEND_JID,
        OTHER_JID,
        FRIEND_JID,
        FRIEND_JID,
        FRIEND_JID,
    ]  # the repeated archive too: WhatsApp is told, whatever zaphubd recorded

    await _refusals(gw, sid)


async def _refusals(gw: Gateway, sid: str) -> None:
    base = f"/api/v1/sessions/{sid}/chats"
    nobody = f"/api/v1/sessions/{uuid.uuid4()}/chats"
    await get(gw, nobody, 404)
    await get(gw, f"{nobody}/{FRIEND}/messages", 404)
    await patch(gw, f"{nobody}/{FRIEND}", {"archived": True}, 404)
    await get(gw, f"{base}/5511900000000/messages", 404)
    await patch(gw, f"{base}/5511900000000", {"pinned": True}, 404)
    await get(gw, f"{base}/not-a-jid/messages", 400)
    await get(gw, f"{base}/..%2F..%2Fetc/messages", 400)
    bad = await get(gw, base, 400, cursor="bm90IGEgY3Vyc29y")
    assert bad["error"]["details"] == {"cursor": ["not a cursor of this list"]}
    await get(gw, f"{base}/{FRIEND}/messages", 400, before=str(uuid.uuid4()))
    other_chat = (await get(gw, f"{base}/{OTHER}/messages"))["data"][0]["id"]
    await get(gw, f"{base}/{FRIEND}/messages", 400, before=other_chat)
    await get(gw, f"{base}/{FRIEND}/messages", 400, before=other_chat, after=other_chat)
    await patch(gw, f"{base}/{FRIEND}", {}, 400)
    await patch(gw, f"{base}/{FRIEND}", {"archived": True, "pinned": True}, 400)
    await patch(gw, f"{base}/{FRIEND}", {"mutedUntil": "2001-01-01T00:00:00Z"}, 400)
    await patch(gw, f"{base}/{FRIEND}", {"star": True}, 400)

    # WhatsApp out of reach: the change is refused, nothing recorded.
    await gw.net.post("/control/faults", {"refuse_connections": True})
    await gw.net.post("/control/drop", {"device_id": sid})
    await eventually(lambda: _not_connected(gw, sid))
    refused = await patch(gw, f"{base}/{FRIEND}", {"pinned": False}, 409)
    assert refused["error"]["type"] == "SessionNotReadyError"
    friend = next(c for c in (await get(gw, base))["data"] if c["jid"] == FRIEND_JID)
    assert friend["pinned"] is True


async def _not_connected(gw: Gateway, sid: str) -> bool:
    return (await gw.session(sid))["status"] != "connected"
