"""The control API and the device socket under bad input; presence, calls, groups, reset."""

from __future__ import annotations

import uuid

import aiohttp
import orjson
import pytest

from tests.simnet_harness import Pair, Simnet
from zaphubd.transport.base import NotConnected, SendFailed, TransportError
from zaphubd.transport.events import (
    Call,
    ChatPresence,
    Disconnected,
    GroupChange,
    LoggedOut,
    MessageIn,
    Presence,
)
from zaphubd.transport.outbound import OutboundMessage, Text
from zaphubd.transport.simnet import SimnetTransport

ANA, BEN, CAL = "5511920000001", "5511920000002", "5511920000003"


def jid(phone: str) -> str:
    return f"{phone}@s.whatsapp.net"


async def raw_exchange(simnet: Simnet, payloads: list[bytes | str]) -> list[dict[str, object]]:
    """Send raw WebSocket messages and collect the frames the server answers."""
    frames: list[dict[str, object]] = []
    async with simnet.http.ws_connect(simnet.url) as ws:
        for payload in payloads:
            if isinstance(payload, str):
                await ws.send_str(payload)
            else:
                await ws.send_bytes(payload)
        while len(frames) < len(payloads):
            msg = await ws.receive(timeout=2)
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            frames.extend(orjson.loads(msg.data))
    return frames


async def test_malformed_frames_get_error_frames_and_never_crash(
    simnet: Simnet, pair: Pair
) -> None:
    answers = await raw_exchange(
        simnet,
        [
            b"not json",
            b"[1, 2]",
            b'{"no": "op"}',
            b'[{"op": "fly", "r": 1}]',
            b'[{"op": "send", "r": 2, "to": "x"}]',
            b'[{"op": "hello", "device": 7}]',
            '[{"op": "hello", "device": "dev-1", "creds": "garbage"}]',
        ],
    )
    assert [a["op"] for a in answers[:3]] == ["error", "error", "error"]
    assert answers[3] == {"op": "result", "r": 1, "ok": False, "error": answers[3]["error"]}
    assert answers[3]["error"]["code"] == "bad_frame"  # type: ignore[index]
    assert answers[4]["error"]["code"] == "not_connected"  # type: ignore[index]
    assert answers[5]["op"] == "error" and "device" in str(answers[5]["message"])
    assert answers[6] == {"op": "logged_out", "reason": "unknown credentials"}

    client, _ = await pair(ANA)  # the server still serves everyone
    await client.send(OutboundMessage(jid(BEN), Text("still up")), None)


async def test_bad_send_content_is_a_permanent_failure(simnet: Simnet, pair: Pair) -> None:
    client, _ = await pair(ANA)
    with pytest.raises(SendFailed) as failure:
        await client.send(OutboundMessage("120363999@g.us", Text("nobody")), None)
    assert failure.value.permanent and "does not exist" in str(failure.value)


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/control/scan", b"{oops", 400, "not valid JSON"),
        ("/control/scan", b"[]", 400, "JSON object"),
        ("/control/scan", {"device_id": "x"}, 400, "phone"),
        ("/control/scan", {"device_id": "x", "phone": ANA, "extra": 1}, 400, "extra"),
        ("/control/scan", {"device_id": "ghost", "phone": ANA}, 404, "unknown device"),
        ("/control/drop", {"device_id": "ghost"}, 404, "unknown device"),
        ("/control/logout", {}, 400, "device_id"),
        ("/control/logout", {"device_id": "ghost"}, 404, "unknown device"),
        ("/control/faults", {"send_error_rate": 2}, 400, "send_error_rate"),
        ("/control/faults", {"drop_every_n": -1}, 400, "drop_every_n"),
        ("/control/faults", {"refuse_connections": "yes"}, 400, "refuse_connections"),
        ("/control/inbound", {"from": ANA, "to": BEN, "message": {"type": "text"}}, 404, BEN),
        ("/control/receipt", {"phone": ANA, "message_id": "x", "type": "seen"}, 400, "type"),
        ("/control/presence", {"phone": ANA, "presence": "dancing"}, 400, "presence"),
        ("/control/presence", {"phone": ANA, "presence": "composing"}, 400, "to"),
        ("/control/call", {"from": ANA, "to": BEN, "action": "offer"}, 404, BEN),
        ("/control/group", {"group": "nope", "action": "add"}, 400, "group"),
        ("/control/group", {"group": "120363111", "action": "add", "participants": []}, 404, ""),
        ("/control/pair-code", {"phone": ANA}, 400, "code"),
    ],
)
async def test_bad_control_input_is_answered_clearly(
    simnet: Simnet, path: str, body: object, status: int, words: str
) -> None:
    url = f"http://127.0.0.1:{simnet.port}{path}"
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with simnet.http.post(url, data=data) as response:
        answer = await response.json()
    assert response.status == status, answer
    assert words in answer["error"]
    assert (await simnet.get("/control/stats"))["sends"] == 0


async def test_bad_inbound_content_names_the_field(simnet: Simnet, pair: Pair) -> None:
    await pair(BEN)
    for message, words in [
        ({"type": "text"}, "text"),
        ({"type": "gif"}, "type must be one of"),
        ({"type": "image", "image": {"data": "!!"}}, "base64"),
        ({"type": "location", "location": {"latitude": 91, "longitude": 0}}, "latitude"),
        ({"type": "poll", "poll": {"name": "q", "options": ["one"]}}, "options"),
    ]:
        status, answer = await simnet.call(
            "POST", "/control/inbound", {"from": ANA, "to": BEN, "message": message}
        )
        assert status == 400 and words in answer["error"], answer


async def test_presence_reaches_only_subscribers(simnet: Simnet, pair: Pair) -> None:
    ana, ana_events = await pair(ANA)
    ben, ben_events = await pair(BEN)
    await ana.subscribe_presence(jid(CAL))
    told = await simnet.post("/control/presence", {"phone": CAL, "presence": "available"})
    assert told == {"notified": 1}
    seen = await ana_events.next(Presence)
    assert seen.jid == jid(CAL) and seen.available and seen.last_seen is None
    await simnet.post("/control/presence", {"phone": CAL, "presence": "unavailable"})
    away = await ana_events.next(Presence)
    assert not away.available and away.last_seen is not None
    await ben_events.none(Presence, within=0.1)

    # A device's own presence reaches those subscribed to its account.
    await ben.subscribe_presence(jid(ANA))
    await ana.send_presence("available")
    assert (await ben_events.next(Presence)).jid == jid(ANA)
    actions = [a["action"] for a in (await simnet.get(f"/control/activity/{ANA}"))["activity"]]
    assert actions == ["subscribe", "presence"]


async def test_chat_presence_reaches_the_chat_partner(simnet: Simnet, pair: Pair) -> None:
    ana, ana_events = await pair(ANA)
    _ben, ben_events = await pair(BEN)
    await simnet.post("/control/presence", {"phone": CAL, "to": ANA, "presence": "composing"})
    typing = await ana_events.next(ChatPresence)
    assert typing == ChatPresence(chat=jid(CAL), sender=jid(CAL), state="composing")
    await ben_events.none(ChatPresence, within=0.05)

    await ana.send_presence("recording", jid(BEN))
    assert await ben_events.next(ChatPresence) == ChatPresence(jid(ANA), jid(ANA), "recording")
    [entry] = (await simnet.get(f"/control/activity/{ANA}"))["activity"]
    assert entry["action"] == "chat_presence" and entry["chat"] == jid(BEN)
    with pytest.raises(TransportError):
        await ana.send_presence("composing", None)


async def test_calls_reach_the_device_and_rejects_are_recorded(simnet: Simnet, pair: Pair) -> None:
    ana, events = await pair(ANA)
    answer = await simnet.post(
        "/control/call", {"from": CAL, "to": ANA, "video": True, "action": "offer"}
    )
    call = await events.next(Call)
    assert (call.call_id, call.caller, call.action, call.is_video) == (
        answer["call_id"],
        jid(CAL),
        "offer",
        True,
    )
    await ana.reject_call(call.caller, call.call_id)
    [entry] = (await simnet.get(f"/control/activity/{ANA}"))["activity"]
    assert entry | {"at": 0} == {
        "at": 0,
        "device_id": str(ana.session_id),
        "action": "reject_call",
        "caller": jid(CAL),
        "call_id": call.call_id,
    }
    await simnet.post(
        "/control/call", {"from": CAL, "to": ANA, "action": "timeout", "call_id": call.call_id}
    )
    assert (await events.next(Call)).action == "timeout"


async def test_group_changes_reach_member_devices(simnet: Simnet, pair: Pair) -> None:
    _ana, ana_events = await pair(ANA)
    ben, ben_events = await pair(BEN)
    group = "120363000000000777@g.us"
    created = await simnet.post(
        "/control/group",
        {
            "group": "120363000000000777",
            "action": "create",
            "participants": [ANA],
            "by": CAL,
            "subject": "Team",
        },
    )
    assert created["members"] == sorted([ANA, CAL]) and created["admins"] == [CAL]
    joined = await ana_events.next(GroupChange)
    assert (joined.group, joined.action, joined.by, joined.subject) == (
        group,
        "joined",
        jid(CAL),
        "Team",
    )
    await simnet.post(
        "/control/group", {"group": group, "action": "add", "participants": [BEN], "by": CAL}
    )
    added = await ben_events.next(GroupChange)
    assert added.action == "add" and added.participants == (jid(BEN),)
    assert (await ana_events.next(GroupChange)).action == "add"
    await simnet.post(
        "/control/group", {"group": group, "action": "promote", "participants": [ANA]}
    )
    await simnet.post("/control/group", {"group": group, "action": "subject", "subject": "New"})
    await simnet.post("/control/group", {"group": group, "action": "remove", "participants": [BEN]})
    await ben_events.next(GroupChange, lambda g: g.action == "remove")
    actions = [g.action for g in ben_events.of(GroupChange)]
    assert actions == ["add", "promote", "subject", "remove"]
    assert ben_events.of(GroupChange)[2].subject == "New"
    await simnet.post(
        "/control/group", {"group": group, "action": "create", "participants": [ANA]}, status=409
    )
    await simnet.post(
        "/control/group", {"group": group, "action": "demote", "participants": [BEN]}, status=400
    )
    with pytest.raises(SendFailed, match="not a member"):
        await ben.send(OutboundMessage(group, Text("let me in")), None)


async def test_inbound_reaction_edit_and_revoke(simnet: Simnet, pair: Pair) -> None:
    _ana, events = await pair(ANA)
    original = {"from": BEN, "to": ANA, "id": "3EB0X", "message": {"type": "text", "text": "x"}}
    await simnet.post("/control/inbound", original)
    await events.next(MessageIn)
    # What is not in the chat cannot be edited (WhatsApp's rules: simnet/actions.py).
    missing = {"type": "edit", "edit": {"messageId": "3EB0NONE", "text": "x"}}
    await simnet.post("/control/inbound", {"from": BEN, "to": ANA, "message": missing}, 404)
    for message in [
        {"type": "reaction", "reaction": {"messageId": "3EB0X", "emoji": "❤️"}},
        {"type": "edit", "edit": {"messageId": "3EB0X", "text": "fixed"}},
        {"type": "revoke", "revoke": {"messageId": "3EB0X"}},
    ]:
        await simnet.post(
            "/control/inbound", {"from": BEN, "to": ANA, "message": message, "push_name": "Ben"}
        )
    got = [await events.next(MessageIn) for _ in range(3)]
    assert [(m.type, m.content) for m in got] == [
        ("reaction", {"messageId": "3EB0X", "emoji": "❤️"}),
        ("edit", {"messageId": "3EB0X", "text": "fixed"}),
        ("revoke", {"messageId": "3EB0X"}),
    ]
    assert {m.push_name for m in got} == {"Ben"}


async def test_inbound_ids_are_deduplicated_per_sender(simnet: Simnet, pair: Pair) -> None:
    await pair(ANA)
    body = {"from": BEN, "to": ANA, "id": "3EB0SAME", "message": {"type": "text", "text": "x"}}
    first = await simnet.post("/control/inbound", body)
    second = await simnet.post("/control/inbound", body)
    third = await simnet.post("/control/inbound", body | {"from": CAL})
    assert (first["duplicate"], second["duplicate"], third["duplicate"]) == (False, True, False)
    assert second["timestamp"] == first["timestamp"]
    assert [m["from"] for m in await simnet.mailbox(ANA)] == [jid(BEN), jid(CAL)]


async def test_devices_stats_and_reset(
    simnet: Simnet, transport: SimnetTransport, pair: Pair
) -> None:
    ana, events = await pair(ANA)
    await ana.send(OutboundMessage(jid(BEN), Text("before reset")), None)
    stats = await simnet.get("/control/stats")
    assert stats | {"connections": 1, "sends": 1, "stored": 1, "devices": 1} == stats
    assert (await simnet.get("/control/devices"))["devices"][0]["state"] == "connected"

    await simnet.post("/control/reset", {})
    assert (await events.next(Disconnected)).reason == "network"
    assert await simnet.get("/control/devices") == {"devices": []}
    assert await simnet.mailbox(BEN) == []
    assert (await simnet.get("/control/stats"))["sends"] == 0
    await ana.connect()  # its credentials mean nothing to the new network
    await events.next(LoggedOut)
    assert not await transport.has_credentials(ana.session_id)
    with pytest.raises(NotConnected):
        await ana.send(OutboundMessage(jid(BEN), Text("after")), None)


async def test_mailbox_path_must_be_a_phone(simnet: Simnet) -> None:
    status, answer = await simnet.call("GET", "/control/mailbox/abc")
    assert status == 400 and "phone" in answer["error"]
    assert await simnet.mailbox(f"{uuid.uuid4().int % 10**12:012d}") == []
