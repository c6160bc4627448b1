"""Inbound media kept for config.storeMedia, end to end from simnet: stored on local disk or
in a real S3-compatible server (moto), served back byte for byte with its MIME type while
the session is away, announced in message.received by a URL the receiver fetches with the
API key; not kept when storeMedia is off."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import aiohttp

from tests.gateway import Gateway, StartGateway, eventually
from tests.media.test_upload import form, upload
from tests.messaging.conftest import png_bytes
from tests.messaging.test_send import RECIPIENT, wait_mailbox
from tests.object_store import ObjectStore
from tests.webhooks.conftest import StartReceiver
from zaphubd.components import MEDIA_RETENTION
from zaphubd.http import appkeys

KEY = "media-admin-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
ME = "5511944440000"
FRIEND = "5511933330000"


async def inbound_image(gw: Gateway, message_id: str, png: bytes) -> None:
    image = {"data": base64.b64encode(png).decode(), "mimeType": "image/png", "caption": "c"}
    await gw.net.post(
        "/control/inbound",
        {"from": FRIEND, "to": ME, "id": message_id, "message": {"type": "image", "image": image}},
    )


async def message(gw: Gateway, sid: str, message_id: str) -> dict[str, Any]:
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/{message_id}")
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = (await resp.json())["data"]
    return data


async def stored(gw: Gateway, sid: str, message_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/{message_id}")
        if resp.status == 404:  # not received yet
            return None
        row: dict[str, Any] = (await resp.json())["data"]
        assert "mediaStoreError" not in row["metadata"], row["metadata"]
        return row if "mediaStored" in row["metadata"] else None

    row: dict[str, Any] = await eventually(probe)
    return row


async def _store_error(gw: Gateway, sid: str, message_id: str) -> dict[str, Any] | None:
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/{message_id}")
    if resp.status == 404:
        return None
    row: dict[str, Any] = (await resp.json())["data"]
    return row if "mediaStoreError" in row["metadata"] else None


async def away(gw: Gateway, sid: str) -> None:
    """The account is banned for a minute: the session is not connected."""
    await gw.net.post("/control/ban", {"phone": ME, "seconds": 60})

    async def probe() -> bool:
        return (await gw.session(sid))["status"] != "connected"

    await eventually(probe)


async def test_stored_on_disk_served_while_away_and_announced(
    gateway: StartGateway, receiver_factory: StartReceiver
) -> None:
    receiver = await receiver_factory()
    gw = await gateway(
        api_key=KEY, headers=AUTH, webhook_allow_private=True, inbound_media_max_bytes=8192
    )
    config = {"storeMedia": True}
    sid = (await gw.connect(ME, webhook_url=receiver.url, config=config))["id"]
    png, other = png_bytes(), png_bytes(32)
    await inbound_image(gw, "KEPT", png)
    row = await stored(gw, sid, "KEPT")
    kept = row["metadata"]["mediaStored"]
    assert kept == {
        "size": len(png),
        "sha256": hashlib.sha256(png).hexdigest(),
        "mimeType": "image/png",
    }
    files = list((gw.auth_dir.parent / "media" / "inbound" / sid).iterdir())
    assert [f.read_bytes() for f in files] == [png]
    assert "KEPT" not in files[0].name  # named from a hash, never from the message id

    hook = (await receiver.wait_for("message.received"))[0].json
    media_url = hook["payload"]["mediaUrl"]
    assert media_url == f"/api/v1/sessions/{sid}/messages/KEPT/media"
    assert media_url == hook["payload"]["content"]["url"]
    base = str(gw.api.make_url(""))
    async with aiohttp.ClientSession() as client:  # the receiver's own client
        async with client.get(base + media_url) as resp:
            assert resp.status == 401
        async with client.get(base + media_url, headers=AUTH) as resp:
            assert resp.status == 200 and await resp.read() == png

    # Deleted for me: the kept copy goes with the message.
    await inbound_image(gw, "GONE", other)
    await stored(gw, sid, "GONE")
    resp = await gw.api.delete(f"/api/v1/sessions/{sid}/messages/GONE", params={"for": "me"})
    assert resp.status == 200, await resp.text()
    assert len(list((gw.auth_dir.parent / "media" / "inbound" / sid).iterdir())) == 1

    await inbound_image(gw, "BIG", png + b"\0" * 8192)  # over the inbound cap: not kept
    big = await eventually(lambda: _store_error(gw, sid, "BIG"))
    assert "ZAPHUB_INBOUND_MEDIA_MAX_BYTES" in big["metadata"]["mediaStoreError"]
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/BIG/media")  # live, still
    assert resp.status == 200 and len(await resp.read()) == len(png) + 8192

    resp = await gw.api.patch(f"/api/v1/sessions/{sid}", json={"config": {"storeMedia": False}})
    assert resp.status == 200, await resp.text()
    await inbound_image(gw, "LIVE", other)
    await gw.net.post(
        "/control/inbound",
        {"from": FRIEND, "to": ME, "id": "AFTER", "message": {"type": "text", "text": "x"}},
    )
    await receiver.wait_for("message.received", 4)  # LIVE was handled (and offered) before

    await away(gw, sid)
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/KEPT/media")
    assert resp.status == 200 and await resp.read() == png
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=")
    live = await message(gw, sid, "LIVE")
    assert "mediaStored" not in live["metadata"] and "mediaStoreError" not in live["metadata"]
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/LIVE/media")
    assert resp.status == 409  # not kept: only the live download, which needs the session
    assert len(list((gw.auth_dir.parent / "media" / "inbound" / sid).iterdir())) == 1

    await forget(gw, sid)  # a deleted session's media goes with it
    assert list((gw.auth_dir.parent / "media" / "inbound" / sid).iterdir()) == []


async def test_stored_in_s3_and_uploads_staged_there(
    gateway: StartGateway, object_store: ObjectStore
) -> None:
    bucket = f"zaphub-{uuid.uuid4().hex[:12]}"
    async with object_store.client() as s3:
        await s3.create_bucket(Bucket=bucket)
    gw = await gateway(public_url="https://zaphub.example.test/", **object_store.settings(bucket))
    sid = (await gw.connect(ME, config={"storeMedia": True}))["id"]
    png = png_bytes()
    await inbound_image(gw, "S3KEPT", png)
    await stored(gw, sid, "S3KEPT")
    objects = await object_store.keys(bucket, f"zaphubd/inbound/{sid}/")
    assert list(objects.values()) == [len(png)]
    event = (await gw.events(sid, event_type="message.received"))[0]["payload"]
    assert event["mediaUrl"] == (
        f"https://zaphub.example.test/api/v1/sessions/{sid}/messages/S3KEPT/media"
    )

    image = {"messageId": "s3-up", "to": RECIPIENT, "type": "image", "image": {}}
    status, body = await upload(gw, sid, form(image, png))
    assert status == 201, body
    box = await wait_mailbox(gw, 1)
    assert box[0]["content"]["sha256"] == hashlib.sha256(png).hexdigest()

    async def unstaged() -> bool:
        return not await object_store.keys(bucket, "zaphubd/staged/")

    await eventually(unstaged)

    await away(gw, sid)
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/messages/S3KEPT/media")
    assert resp.status == 200 and await resp.read() == png
    assert resp.headers["Content-Type"] == "image/png"
    await forget(gw, sid)
    assert await object_store.keys(bucket, "zaphubd/inbound/") == {}


async def forget(gw: Gateway, sid: str) -> None:
    """Delete the session, wait until its row is gone, then run the retention pass."""
    await gw.net.post("/control/ban", {"phone": ME, "seconds": 0})  # lifted: it may log out
    resp = await gw.api.delete(f"/api/v1/sessions/{sid}", params={"force": "true"})
    assert resp.status in (200, 202), await resp.text()
    db = gw.api.server.app[appkeys.DB]

    async def gone() -> bool:
        count = await db.fetchval("SELECT count(*) FROM sessions WHERE id = $1", uuid.UUID(sid))
        return count == 0

    await eventually(gone)
    assert await gw.api.server.app[MEDIA_RETENTION].sweep() >= 1
