"""Session lifecycle end to end: the daemon in-process against simnet, real Postgres and Redis."""

from __future__ import annotations

import base64
import io
import itertools
import uuid
from datetime import datetime

from PIL import Image

from tests.gateway import StartGateway, eventually
from zaphubd.http import appkeys
from zaphubd.simnet.model import SimnetConfig


async def test_create_qr_scan_connected(gateway: StartGateway) -> None:
    gw = await gateway()
    created = await gw.create(label="Support desk", config={"retryLimit": 3})
    assert created["status"] == "initializing"
    sid = created["id"]
    pending = await gw.wait_status(sid, "qr_pending")
    assert pending["qr_code"] and pending["last_qr_at"]
    await gw.net.post("/control/scan", {"device_id": sid, "phone": "5511900000001"})
    session = await gw.wait_status(sid, "connected")
    assert session["phone_number"] == "5511900000001"
    assert session["qr_code"] is None
    assert session["retry_count"] == 0
    assert session["connected_at"] and session["last_seen"]
    assert session["runtime_status"] == "connected" and session["is_connected"] is True
    assert (await gw.net.device(sid))["state"] == "connected"
    assert (await gw.credentials(sid) or {}).get("device_id") == sid  # stored in Postgres
    assert not (gw.auth_dir / sid).exists()  # not in a node's local directory
    types = await gw.event_types(sid)
    assert types[:3] == ["session.initializing", "session.qr_generated", "session.connected"]


async def test_qr_formats_decode(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.create())["id"]
    raw_code = (await gw.wait_status(sid, "qr_pending"))["qr_code"]

    async def qr(fmt: str) -> dict[str, str]:
        resp = await gw.api.get(f"/api/v1/sessions/{sid}/qr", params={"format": fmt})
        assert resp.status == 200, await resp.text()
        data: dict[str, str] = (await resp.json())["data"]
        return data

    png_resp = await gw.api.get(f"/api/v1/sessions/{sid}/qr", params={"format": "png"})
    png = await png_resp.read()
    assert png_resp.content_type == "image/png"
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[0] == image.size[1] > 100
    default = await qr("base64")
    assert base64.b64decode(default["qr_code"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert (await qr("data_url"))["qr_code"].startswith("data:image/png;base64,iVBOR")
    assert (await qr("raw"))["qr_code"] == raw_code
    assert (await qr("svg"))["qr_code"].startswith("<svg")
    terminal = (await qr("terminal"))["qr_code"]
    assert "\u2588" in terminal and terminal.count("\n") > 10
    assert datetime.fromisoformat(default["expires_at"]) > datetime.fromisoformat(
        default["generated_at"]
    )
    bad = await gw.api.get(f"/api/v1/sessions/{sid}/qr", params={"format": "gif"})
    assert bad.status == 400


async def test_qr_is_410_once_expired(gateway: StartGateway) -> None:
    # One short-lived QR per login attempt and a long reconnect delay: the stored QR expires.
    quick = SimnetConfig(qr_first_s=0.5, qr_next_s=0.5, qr_max=1, save_delay_s=0.05)
    gw = await gateway(quick, reconnect_base_s=30)
    sid = (await gw.create())["id"]
    await gw.wait_status(sid, "qr_pending")
    await gw.wait_status(sid, "reconnecting")
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/qr")
    assert resp.status == 410
    assert (await resp.json())["error"]["type"] == "QrExpiredError"


async def test_qr_is_404_once_connected(gateway: StartGateway) -> None:
    gw = await gateway()
    connected = await gw.connect("5511900000002")
    resp = await gw.api.get(f"/api/v1/sessions/{connected['id']}/qr")
    assert resp.status == 404
    assert "connected" in (await resp.json())["error"]["message"]


async def test_drop_reconnects_without_a_new_qr(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect("5511900000003"))["id"]
    await gw.net.post("/control/drop", {"device_id": sid})

    async def reconnected() -> bool:
        return (await gw.event_types(sid)).count("session.connected") == 2

    await eventually(reconnected)
    types = await gw.event_types(sid)
    assert types.count("session.qr_generated") == 1
    tail = types[types.index("session.connected") + 1 :]
    assert tail[:3] == ["session.disconnected", "session.reconnecting", "session.connected"]
    assert (await gw.session(sid))["status"] == "connected"


async def test_refused_connections_back_off_then_fail(gateway: StartGateway) -> None:
    gw = await gateway(reconnect_base_s=0.2)
    sid = (await gw.connect("5511900000004", config={"retryLimit": 3}))["id"]
    await gw.net.post("/control/faults", {"refuse_connections": True})
    await gw.net.post("/control/drop", {"device_id": sid})
    session = await gw.wait_status(sid, "failed", timeout_s=15)
    events = await gw.events(sid)
    reconnects = [e for e in events if e["event_type"] == "session.reconnecting"]
    assert [e["payload"]["attempt"] for e in reconnects] == [1, 2, 3]
    delays = [e["payload"]["delay_s"] for e in reconnects]
    assert delays == sorted(delays) and delays[2] > 2 * delays[0]
    stamps = [datetime.fromisoformat(e["created_at"]) for e in reconnects]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    assert gaps[1] > gaps[0]  # the waits really grow
    failed = [e for e in events if e["event_type"] == "session.failed"]
    assert failed[0]["payload"]["attempts"] == 3
    assert "could not reach" in session["error_message"]
    assert session["runtime_status"] == "disconnected"


async def test_phone_logout_ends_the_session_and_deletes_credentials(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect("5511900000005"))["id"]
    await gw.net.post("/control/logout", {"device_id": sid})
    session = await gw.wait_status(sid, "logged_out")
    assert await gw.credentials(sid) is None
    assert "session.logged_out" in await gw.event_types(sid)
    assert "session.reconnecting" not in await gw.event_types(sid)
    assert session["runtime_status"] == "disconnected"


async def test_restart_clears_credentials_and_shows_a_new_qr(gateway: StartGateway) -> None:
    gw = await gateway()
    first = await gw.connect("5511900000006")
    sid = first["id"]
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/restart")
    assert resp.status == 200
    pending = await gw.wait_status(sid, "qr_pending")
    assert pending["qr_code"]
    assert (await gw.net.device(sid))["state"] == "waiting_qr"
    await gw.net.post("/control/scan", {"device_id": sid, "phone": "5511900000007"})
    assert (await gw.wait_status(sid, "connected"))["phone_number"] == "5511900000007"


async def test_delete_logs_the_device_out_and_removes_everything(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect("5511900000008"))["id"]
    resp = await gw.api.delete(f"/api/v1/sessions/{sid}")
    assert resp.status == 200
    assert (await resp.json())["data"] == {"id": sid, "status": "deleting"}

    # Gone for the API at once; the device, the credentials and the row follow.
    assert (await gw.api.get(f"/api/v1/sessions/{sid}")).status == 404
    app = gw.api.server.app

    async def removed() -> bool:
        return await app[appkeys.SESSION_REPO].get(uuid.UUID(sid)) is None

    await eventually(removed)
    assert (await gw.net.device(sid))["state"] == "logged_out"
    assert await gw.credentials(sid) is None
    assert (await gw.api.get(f"/api/v1/sessions/{sid}/events")).status == 404


async def test_pairing_code_login(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.create())["id"]
    await gw.wait_status(sid, "qr_pending")
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/pair", json={"phone": "+5511900000009"})
    assert resp.status == 200, await resp.text()
    code = (await resp.json())["data"]["pairing_code"]
    await gw.net.post("/control/pair-code", {"phone": "5511900000009", "code": code})
    assert (await gw.wait_status(sid, "connected"))["phone_number"] == "5511900000009"
    assert "session.pair_code" in await gw.event_types(sid)
    again = await gw.api.post(f"/api/v1/sessions/{sid}/pair", json={"phone": "5511900000009"})
    assert again.status == 409


async def test_capacity_is_enforced_with_429(gateway: StartGateway) -> None:
    gw = await gateway(max_concurrent_sessions=2)
    await gw.create()
    await gw.create()
    resp = await gw.api.post("/api/v1/sessions", json={"label": "one too many"})
    assert resp.status == 429
    assert (await resp.json())["error"]["type"] == "CapacityError"
    stats = (await (await gw.api.get("/api/v1/sessions/stats")).json())["data"]
    assert stats["capacity"] == {"active": 2, "max": 2, "available": 0, "usage_percent": 100.0}


async def test_mark_online_on_connect_sends_presence(gateway: StartGateway) -> None:
    gw = await gateway()
    online = await gw.connect("5511900000010")
    offline = await gw.connect("5511900000011", config={"markOnlineOnConnect": False})

    async def presences(phone: str) -> list[str]:
        activity = await gw.net.get(f"/control/activity/{phone}")
        return [a.get("presence") for a in activity["activity"] if a.get("action") == "presence"]

    assert await eventually(lambda: presences(online["phone_number"])) == ["available"]
    assert await eventually(lambda: presences(offline["phone_number"])) == ["unavailable"]
