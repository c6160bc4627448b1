"""Groups end to end: the API on a daemon whose session is on simnet, with other phones
acting through simnet's control API. Each test walks many steps on one gateway (test time
is scarce); what is checked is what a user sees: HTTP bodies, the session's events (what
webhooks are sent), and simnet's state."""

from __future__ import annotations

import uuid
from typing import Any

from tests.gateway import Gateway, StartGateway, eventually

ME = "5511900000301"  # the session's account: the lowest number, so it inherits admin
BEN = "5511900000302"  # another zaphubd-less phone (control API)
CAL = "5511900000303"
DAN = "5511900000304"
NOPE = "5511900000399"  # not on WhatsApp
OWN = f"{ME}@s.whatsapp.net"


def user(phone: str) -> str:
    return f"{phone}@s.whatsapp.net"


async def call(gw: Gateway, method: str, path: str, status: int, body: Any = None) -> Any:
    resp = await gw.api.request(method, f"/api/v1/sessions/{path}", json=body)
    answer = await resp.json()
    assert resp.status == status, answer
    return answer["data"] if answer.get("success") else answer["error"]


async def event(gw: Gateway, sid: str, kind: str, **match: Any) -> dict[str, Any]:
    """The first `kind` event of the session whose payload has every `match` item."""

    async def probe() -> dict[str, Any] | None:
        for ev in await gw.events(sid, type="group"):
            payload: dict[str, Any] = ev["payload"]
            if ev["event_type"] == kind and all(payload.get(k) == v for k, v in match.items()):
                return payload
        return None

    found: dict[str, Any] = await eventually(probe)
    return found


async def test_a_group_from_creation_to_leaving(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect(ME))["id"]
    for phone in (BEN, CAL, DAN):  # on WhatsApp; NOPE is not
        await gw.net.post("/control/accounts", {"phone": phone})

    body = {"subject": "Team", "participants": [BEN, f"+{CAL}", NOPE]}
    group = await call(gw, "POST", f"{sid}/groups", 201, body)
    gid = group["jid"]
    members = {p["jid"]: p for p in group["participants"]}
    assert set(members) == {OWN, user(BEN), user(CAL)}  # NOPE is not on WhatsApp
    assert members[OWN]["isSuperAdmin"] and members[OWN]["isAdmin"]
    assert not members[user(BEN)]["isAdmin"] and members[user(BEN)]["phone"] == user(BEN)
    assert (group["subject"], group["owner"], group["size"]) == ("Team", OWN, 3)
    await event(gw, sid, "group.joined", groupId=gid, subject="Team")

    listed = await gw.api.get(f"/api/v1/sessions/{sid}/groups")
    answer = await listed.json()
    assert answer["pagination"]["total"] == 1 and answer["data"][0]["jid"] == gid
    assert "participants" not in answer["data"][0]
    digits = gid.removesuffix("@g.us")
    assert (await call(gw, "GET", f"{sid}/groups/{digits}", 200))["jid"] == gid

    results = await call(
        gw, "POST", f"{sid}/groups/{gid}/participants/add", 200,
        {"participants": [NOPE, BEN, DAN]},
    )  # fmt: skip
    assert results == [
        {"jid": user(NOPE), "status": "not_on_whatsapp", "error": 404},
        {"jid": user(BEN), "status": "already_member", "error": 409},
        {"jid": user(DAN), "status": "ok"},
    ]
    await event(gw, sid, "group.participants.add", groupId=gid, participants=[user(DAN)])
    removed = await call(
        gw, "POST", f"{sid}/groups/{gid}/participants/remove", 200, {"participants": [NOPE]}
    )
    assert removed == [{"jid": user(NOPE), "status": "not_member", "error": 404}]
    await call(gw, "POST", f"{sid}/groups/{gid}/participants/promote", 200, {"participants": [BEN]})
    await event(gw, sid, "group.participants.promote", participants=[user(BEN)], by=OWN)

    changes = {"description": "About us", "announce": True, "locked": True}
    changed = await call(gw, "PATCH", f"{sid}/groups/{gid}", 200, changes)
    assert (changed["description"], changed["announce"], changed["locked"]) == (
        "About us", True, True,
    )  # fmt: skip
    update = await event(gw, sid, "group.update", groupId=gid, details={"announce": True})
    assert update["by"] == OWN
    await event(gw, sid, "group.update", details={"description": "About us"})

    # announce: only admins may send. CAL is not one; BEN is.
    text = {"type": "text", "text": "hello"}
    await gw.net.post("/control/inbound", {"from": CAL, "to": gid, "message": text}, 403)
    await gw.net.post("/control/inbound", {"from": BEN, "to": gid, "message": text})

    # a change made elsewhere arrives as an event too
    await gw.net.post(f"/control/groups/{gid}/settings", {"by": BEN, "subject": "Renamed"})
    renamed = await event(gw, sid, "group.update", groupId=gid, subject="Renamed")
    assert renamed["by"] == user(BEN)

    link = (await call(gw, "GET", f"{sid}/groups/{gid}/invite-link", 200))["inviteLink"]
    assert link.startswith("https://chat.whatsapp.com/")
    again = (await call(gw, "POST", f"{sid}/groups/{gid}/invite-link/revoke", 200))["inviteLink"]
    assert again != link
    old_code, new_code = link.rsplit("/", 1)[1], again.rsplit("/", 1)[1]
    refused = await gw.net.post(
        "/control/groups-join", {"phone": "5511900000305", "code": old_code}, 404
    )
    assert "revoked" in refused["error"]
    await gw.net.post("/control/groups-join", {"phone": "5511900000305", "code": new_code})
    await event(gw, sid, "group.participants.add", participants=[user("5511900000305")])

    left = await call(gw, "POST", f"{sid}/groups/{gid}/leave", 200)
    assert left == {"jid": gid, "left": True}
    await event(gw, sid, "group.participants.remove", groupId=gid, participants=[OWN], by=OWN)
    error = await call(gw, "GET", f"{sid}/groups/{gid}", 403)
    assert "not participating" in error["message"]
    state = await gw.net.get(f"/control/groups/{gid}")
    assert ME not in state["members"] and state["admins"] == [BEN]


async def test_what_the_api_refuses(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect(ME))["id"]
    # CAL's groups: in one the account is a plain member, the other it is not in at all.
    theirs, other = "120363000000000901@g.us", "120363000000000902@g.us"
    create = {"group": theirs, "action": "create", "participants": [ME, BEN], "by": CAL}
    await gw.net.post("/control/group", create | {"subject": "Theirs"})
    await gw.net.post(
        "/control/group", {"group": other, "action": "create", "participants": [BEN], "by": CAL}
    )

    unknown = uuid.uuid4()
    assert (await call(gw, "GET", f"{unknown}/groups", 404))["type"] == "NotFoundError"
    await call(gw, "POST", f"{unknown}/groups/join", 404, {"invite": "x"})
    not_admin = await call(gw, "PATCH", f"{sid}/groups/{theirs}", 403, {"announce": True})
    assert "admins" in not_admin["message"]
    add = {"participants": [DAN]}
    await call(gw, "POST", f"{sid}/groups/{theirs}/participants/add", 403, add)
    await call(gw, "GET", f"{sid}/groups/{theirs}/invite-link", 403)
    # not locked: any member may change the subject
    renamed = await call(gw, "PATCH", f"{sid}/groups/{theirs}", 200, {"subject": "Ours too"})
    assert renamed["subject"] == "Ours too"

    await call(gw, "GET", f"{sid}/groups/{other}", 403)  # exists, but we are not in it
    await call(gw, "GET", f"{sid}/groups/120363000000000999@g.us", 404)
    await call(gw, "GET", f"{sid}/groups/..%2F..%2Fetc", 400)
    await call(gw, "POST", f"{sid}/groups/{theirs}/participants/kick", 400, add)
    await call(gw, "POST", f"{sid}/groups", 400, {"subject": "", "participants": [BEN]})
    await call(gw, "POST", f"{sid}/groups", 400, {"subject": "S", "participants": ["abc"]})
    await call(gw, "PATCH", f"{sid}/groups/{theirs}", 400, {})

    await call(gw, "POST", f"{sid}/groups/join", 400, {"invite": "https://evil.example/abc"})
    missing = await call(gw, "POST", f"{sid}/groups/join", 404, {"invite": "A" * 22})
    assert "not valid" in missing["message"]

    # announce: the account is no admin here, so its send is refused by the network
    await gw.net.post(f"/control/groups/{theirs}/settings", {"by": CAL, "announce": True})
    send = {"messageId": "to-announce", "to": theirs, "text": "may I?"}
    await call(gw, "POST", f"{sid}/messages", 201, send)

    async def refused() -> dict[str, Any] | None:
        row: dict[str, Any] = await call(gw, "GET", f"{sid}/messages/to-announce", 200)
        return row if row["status"] in ("failed", "dlq") else None

    assert "only admins" in (await eventually(refused))["error_message"]

    # the last admin leaves: WhatsApp makes someone else admin; simnet the lowest number
    await gw.net.post(f"/control/groups/{theirs}/leave", {"phone": CAL})
    await event(gw, sid, "group.participants.promote", groupId=theirs, participants=[OWN])
    mine = await call(gw, "GET", f"{sid}/groups/{theirs}", 200)
    assert {p["jid"]: p["isAdmin"] for p in mine["participants"]} == {OWN: True, user(BEN): False}
    code = (await call(gw, "GET", f"{sid}/groups/{theirs}/invite-link", 200))["inviteLink"]
    await call(gw, "POST", f"{sid}/groups/{theirs}/invite-link/revoke", 200)
    revoked = await call(gw, "POST", f"{sid}/groups/join", 404, {"invite": code})
    assert "revoked" in revoked["message"]

    invite = await gw.net.post(f"/control/groups/{other}/invite", {"by": CAL})
    joined = await call(gw, "POST", f"{sid}/groups/join", 200, {"invite": invite["link"]})
    assert joined["jid"] == other and OWN in {p["jid"] for p in joined["participants"]}
    await event(gw, sid, "group.joined", groupId=other)

    waiting = await gw.create()  # never scanned: not connected
    await call(gw, "GET", f"{waiting['id']}/groups", 409)
    await call(gw, "POST", f"{waiting['id']}/groups/join", 409, {"invite": "A" * 22})
