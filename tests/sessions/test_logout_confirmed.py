"""A deletion logs the device out only when the network confirms it; otherwise the session
stays, failed, with the reason (never a silent OK), until it is deleted with ?force=true."""

from __future__ import annotations

from typing import Any

from tests.gateway import StartGateway, eventually

PHONE = "5511900000091"


async def test_an_unconfirmed_logout_keeps_the_session_until_forced(
    gateway: StartGateway,
) -> None:
    gw = await gateway()
    sid = (await gw.connect(PHONE, config={"retryLimit": 10}))["id"]
    await gw.net.post("/control/faults", {"refuse_connections": True})
    await gw.net.post("/control/drop", {"device_id": sid})  # and it cannot come back
    await gw.wait_status(sid, "reconnecting")
    resp = await gw.api.delete(f"/api/v1/sessions/{sid}")
    assert resp.status == 200, await resp.text()

    async def back() -> dict[str, Any] | None:  # 404 while the deletion runs, then back
        resp = await gw.api.get(f"/api/v1/sessions/{sid}")
        data: dict[str, Any] = (await resp.json()).get("data") or {}
        return data if resp.status == 200 and data["status"] == "failed" else None

    failed = await eventually(back, 30)
    assert "logout could not be confirmed" in failed["error_message"]
    assert "session.logout_failed" in await gw.event_types(sid)
    device = next(
        d for d in (await gw.net.get("/control/devices"))["devices"] if d["device_id"] == sid
    )
    assert device["state"] == "offline"  # still linked on the network's side, not logged out

    resp = await gw.api.delete(f"/api/v1/sessions/{sid}", params={"force": "true"})
    assert resp.status == 200, await resp.text()

    async def gone() -> bool:
        return (await gw.api.get(f"/api/v1/sessions/{sid}")).status == 404

    await eventually(gone, 15)


async def test_a_confirmed_logout_unlinks_and_deletes(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect("5511900000092"))["id"]
    assert (await gw.api.delete(f"/api/v1/sessions/{sid}")).status == 200

    async def gone() -> bool:
        return (await gw.api.get(f"/api/v1/sessions/{sid}")).status == 404

    await eventually(gone, 15)
    device = next(
        d for d in (await gw.net.get("/control/devices"))["devices"] if d["device_id"] == sid
    )
    assert device["state"] == "logged_out"
