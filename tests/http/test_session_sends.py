"""The session object carries its pending sends, in the list and alone (the dashboard's
queued / in-flight counts)."""

from __future__ import annotations

from tests.gateway import StartGateway


async def test_pending_sends_show_in_the_list_and_the_session(gateway: StartGateway) -> None:
    gw = await gateway()
    waiting = await gw.create(label="not connected")
    idle = await gw.create(label="idle")
    body = {"messageId": "pending-1", "to": "5511988880151", "text": "later"}
    resp = await gw.api.post(f"/api/v1/sessions/{waiting['id']}/messages", json=body)
    assert resp.status == 201, await resp.text()
    listing = (await (await gw.api.get("/api/v1/sessions")).json())["data"]
    sends = {s["id"]: s["sends"] for s in listing}
    assert sends[waiting["id"]] == {"queued": 1, "in_flight": 0, "retrying": 0}
    assert sends[idle["id"]] == {"queued": 0, "in_flight": 0, "retrying": 0}
    one = await gw.session(waiting["id"])
    assert one["sends"]["queued"] == 1
