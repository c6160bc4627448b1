"""What message actions refuse, and how: at once (404, 403, 400, 409) for what zaphubd can
tell, or as a send WhatsApp (simnet) refuses, ending in `dlq` with the reason; and how
actions wait in the outbox while the session is disconnected."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.gateway import StartGateway
from tests.message_actions.helpers import ALICE, BOB, Pair
from tests.messaging.test_send import wait_message_status
from zaphubd.http import appkeys

GROUP = "120363000000000001@g.us"


async def inbound(pair: Pair, message: dict[str, Any], **extra: Any) -> None:
    await pair.gw.net.post(
        "/control/inbound", {"from": BOB, "to": extra.pop("to", ALICE), "message": message, **extra}
    )


async def test_refused_actions_answer_at_once_or_end_in_dlq(gateway: StartGateway) -> None:
    gw = await gateway()
    p = Pair(gw, (await gw.connect(ALICE))["id"], "")
    await p.send_text(p.alice, "mine", BOB, "mine")
    await inbound(p, {"type": "text", "text": "theirs"}, id="THEIRS")
    await p.event(p.alice, "message.received")

    missing_session = str(uuid.uuid4())
    assert (await p.call("PATCH", missing_session, "/mine", {"text": "x"}))[0] == 404
    assert (await p.call("PATCH", p.alice, "/nope", {"text": "x"}))[0] == 404
    assert (await p.call("POST", p.alice, "/read", {"messageIds": ["nope"]}))[0] == 404
    assert (await p.call("PATCH", p.alice, "/mine", {"text": ""}))[0] == 400
    status, body = await p.call("PATCH", p.alice, "/THEIRS", {"text": "x"})
    assert status == 403 and "only messages this account sent" in body["error"]["message"]
    status, body = await p.call("DELETE", p.alice, "/THEIRS")
    assert status == 403 and "one-to-one" in body["error"]["message"]

    status, _ = await p.call(
        "POST",
        p.alice,
        "",
        {"messageId": "loc", "to": BOB, "location": {"latitude": 1, "longitude": 2}},
    )
    await wait_message_status(gw, p.alice, "loc", "delivered")
    assert (await p.call("PATCH", p.alice, "/loc", {"text": "x"}))[0] == 400

    # Fifteen minutes later an edit is no longer allowed.
    db = gw.api.server.app[appkeys.DB]
    old = datetime.now(UTC) - timedelta(minutes=16)
    await db.execute("UPDATE messages SET sent_at = $2 WHERE message_id = $1", "mine", old)
    status, body = await p.call("PATCH", p.alice, "/mine", {"text": "late"})
    assert status == 403 and "15 minutes" in body["error"]["message"]

    # Delete for me: zaphubd's copy goes, nothing is sent.
    status, body = await p.call("DELETE", p.alice, "/THEIRS", **{"for": "me"})
    assert status == 200 and body["data"]["deletedFor"] == "me", body
    assert (await gw.api.get(f"/api/v1/sessions/{p.alice}/messages/THEIRS")).status == 404
    assert not [e for e in await gw.net.mailbox(BOB) if e["type"] == "revoke"]
    # An edit of a message zaphubd no longer has is still told, with no target.
    await inbound(p, {"type": "edit", "edit": {"messageId": "THEIRS", "text": "v2"}}, id="E9")
    (edited,) = await p.event(p.alice, "message.edited")
    assert (edited["targetId"], edited["target"], edited["text"]) == ("THEIRS", None, "v2")

    # In a group only an admin may delete another member's message: WhatsApp refuses it.
    await gw.net.post(
        "/control/group", {"group": GROUP, "action": "create", "participants": [ALICE], "by": BOB}
    )
    await inbound(p, {"type": "text", "text": "in group"}, id="GMSG", to=GROUP)
    await p.event(p.alice, "message.received", 2)
    status, body = await p.call("DELETE", p.alice, "/GMSG", requestId="revoke-1")
    assert status == 202, body
    failed = await wait_message_status(gw, p.alice, "revoke-1", "dlq")
    assert "only a group admin" in failed["error_message"]
    await gw.net.post(
        "/control/group", {"group": GROUP, "action": "promote", "participants": [ALICE], "by": BOB}
    )
    status, body = await p.call("DELETE", p.alice, "/GMSG", requestId="revoke-2")
    assert status == 202, body
    await p.sent(p.alice, "revoke-2")
    entry = next(e for e in await gw.net.mailbox(ALICE) if e["id"] == "GMSG")
    assert entry["revoked_at"] is not None and entry["content"] == {}


async def test_actions_wait_in_the_outbox_while_disconnected(gateway: StartGateway) -> None:
    gw = await gateway()
    p = Pair(gw, (await gw.connect(ALICE))["id"], "")
    await p.send_text(p.alice, "mine", BOB, "first")
    await inbound(p, {"type": "text", "text": "hi"}, id="HI")
    await p.event(p.alice, "message.received")
    await gw.net.post("/control/faults", {"refuse_connections": True})
    await gw.net.post("/control/drop", {"device_id": p.alice})
    await gw.wait_status(p.alice, "reconnecting")

    status, body = await p.call("POST", p.alice, "/read", {"messageIds": ["HI"]})
    assert status == 409, body  # a receipt is not queued
    status, body = await p.call("PATCH", p.alice, "/mine", {"text": "second", "requestId": "e-1"})
    assert status == 202 and body["data"]["status"] == "queued", body

    await gw.net.post("/control/faults", {})
    await p.sent(p.alice, "e-1")
    entry = next(e for e in await gw.net.mailbox(BOB) if e["content"].get("text") == "second")
    assert entry["type"] == "text" and entry["edited_at"] is not None
