"""Message actions end to end between two zaphubd sessions on two simnet accounts: what one
does (edit, read, forward, revoke, react), the other sees, and both stored copies follow."""

from __future__ import annotations

import base64

import pytest

from tests.gateway import StartGateway, eventually
from tests.message_actions.helpers import ALICE, BOB, CAROL, Pair, jid_of
from tests.messaging.conftest import png_bytes


@pytest.fixture
async def pair(gateway: StartGateway) -> Pair:
    gw = await gateway()
    alice = (await gw.connect(ALICE))["id"]
    bob = (await gw.connect(BOB))["id"]
    return Pair(gw, alice, bob)


async def test_edit_read_forward_and_revoke_reach_the_other_session(pair: Pair) -> None:
    p = pair
    wa_id = await p.send_text(p.alice, "hello-1", BOB, "hello")
    (received,) = await p.event(p.bob, "message.received")
    assert received["messageId"] == wa_id

    # Alice edits: a queued send of its own, and both stored copies get the new text.
    status, body = await p.call("PATCH", p.alice, "/hello-1", {"text": "hello, edited"})
    assert status == 202, body
    edit = body["data"]
    assert (edit["type"], edit["status"], edit["to"]) == ("edit", "queued", jid_of(BOB))
    await p.sent(p.alice, edit["messageId"])
    (edited,) = await p.event(p.bob, "message.edited")
    assert (edited["targetId"], edited["text"], edited["previous"]) == (
        wa_id,
        "hello, edited",
        "hello",
    )
    assert edited["target"] == {"id": received["id"], "messageId": wa_id}
    bobs_copy = await p.row(p.bob, wa_id)
    assert bobs_copy["content"]["text"] == "hello, edited"
    assert bobs_copy["metadata"]["previous"] == "hello" and "editedAt" in bobs_copy["metadata"]

    async def alice_copy_edited() -> bool:
        return (await p.row(p.alice, "hello-1"))["content"]["text"] == "hello, edited"

    await eventually(alice_copy_edited)
    entry = await p.mailbox_entry(BOB, wa_id)
    assert entry["content"]["text"] == "hello, edited" and entry["edited_at"] is not None

    # Bob reads it: Alice sees the blue ticks, simnet's mailbox says read.
    status, body = await p.call("POST", p.bob, "/read", {"messageIds": [wa_id]})
    assert status == 200 and body["data"] == {"read": [wa_id], "chats": 1}, body
    await p.event(p.alice, "message.receipt.read")
    assert (await p.mailbox_entry(BOB, wa_id))["status"] == "read"
    assert (await p.row(p.bob, wa_id))["status"] == "read"

    # Bob forwards it (to Carol, and back to Alice): copies marked forwarded.
    for to in (CAROL, ALICE):
        status, body = await p.call("POST", p.bob, f"/{wa_id}/forward", {"to": to})
        assert status == 202 and body["data"]["type"] == "text", body
        forwarded = await p.sent(p.bob, body["data"]["messageId"])
        entry = await p.mailbox_entry(to, forwarded["wa_message_id"])
        assert entry["forwarded"] is True and entry["content"] == {"text": "hello, edited"}
    (back,) = await p.event(p.alice, "message.received")
    assert back["forwarded"] is True and back["content"] == {"text": "hello, edited"}
    assert (await p.row(p.alice, back["messageId"]))["metadata"]["forwarded"] is True

    # Alice revokes it: deleted for everyone, both copies emptied and marked.
    status, body = await p.call("DELETE", p.alice, "/hello-1")
    assert status == 202 and body["data"]["type"] == "revoke", body
    await p.sent(p.alice, body["data"]["messageId"])
    (revoked,) = await p.event(p.bob, "message.revoked")
    assert revoked["targetId"] == wa_id and revoked["target"]["id"] == received["id"]
    bobs_copy = await p.row(p.bob, wa_id)
    assert bobs_copy["content"] == {} and bobs_copy["metadata"]["revoked"] is True
    assert (await p.mailbox_entry(BOB, wa_id))["revoked_at"] is not None

    async def alice_copy_revoked() -> bool:
        return bool((await p.row(p.alice, "hello-1"))["metadata"].get("revoked"))

    await eventually(alice_copy_revoked)
    status, body = await p.call("PATCH", p.alice, "/hello-1", {"text": "too late"})
    assert status == 409, body


async def test_replies_and_mentions_arrive_on_every_send_type(pair: Pair) -> None:
    p = pair
    quoted = await p.send_text(p.bob, "q-1", ALICE, "quote me")
    png = base64.b64encode(png_bytes()).decode()
    contents = {
        "text": {"text": "re: text"},
        "image": {"image": {"data": png, "mimeType": "image/png", "caption": "re: image"}},
        "location": {"location": {"latitude": 1.0, "longitude": 2.0}},
        "contact": {"contact": {"displayName": "Bo", "vcard": "BEGIN:VCARD\nFN:Bo\nEND:VCARD"}},
        "poll": {"poll": {"name": "Q", "options": ["a", "b"]}},
    }
    for kind, content in contents.items():
        body = {"messageId": f"reply-{kind}", "to": BOB, "type": kind, **content}
        status, answer = await p.call(
            "POST", p.alice, "", body | {"quoted": quoted, "mentions": [BOB]}
        )
        assert status == 201, answer
    replies = {e["type"]: e for e in await p.event(p.bob, "message.received", len(contents))}
    assert set(replies) == set(contents)
    for kind, event in replies.items():
        assert event["quoted"] == quoted, kind
        assert event["content"]["mentions"] == [jid_of(BOB)], kind


async def test_reactions_are_sent_and_taken_back(pair: Pair) -> None:
    p = pair
    wa_id = await p.send_text(p.bob, "r-1", ALICE, "react to me")
    await p.event(p.alice, "message.received")
    status, body = await p.call("POST", p.alice, f"/{wa_id}/reaction", {"emoji": "👍"})
    assert status == 202, body
    await p.sent(p.alice, body["data"]["messageId"])
    status, body = await p.call("DELETE", p.alice, f"/{wa_id}/reaction", requestId="unreact-1")
    assert status == 202, body
    await p.sent(p.alice, "unreact-1")
    reactions = await p.event(p.bob, "message.reaction", 2)
    assert [(r["targetId"], r["emoji"]) for r in reactions] == [(wa_id, "👍"), (wa_id, "")]
    # The same requestId again is the same send, not a second one.
    status, body = await p.call("DELETE", p.alice, f"/{wa_id}/reaction", requestId="unreact-1")
    assert status == 200 and body["data"]["messageId"] == "unreact-1", body
