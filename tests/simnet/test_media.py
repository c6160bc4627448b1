"""Media: inbound media arrives as a reference the client downloads, within its limit."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.simnet_harness import Pair, Simnet
from zaphubd.transport.base import MediaUnavailable
from zaphubd.transport.events import MediaRef, MessageIn
from zaphubd.transport.outbound import Media, OutboundMessage

ANA, BEN = "5511930000001", "5511930000002"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


@pytest.fixture
async def media_site() -> AsyncIterator[str]:
    """A plain HTTP server holding one file, as a phone's media URL would point at."""

    async def photo(request: web.Request) -> web.Response:
        return web.Response(body=PHOTO, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/files/photo.jpg", photo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_inbound_media_is_downloaded_within_max_bytes(simnet: Simnet, pair: Pair) -> None:
    client, events = await pair(ANA)
    image = {
        "data": base64.b64encode(PHOTO).decode(),
        "caption": "sunset",
        "mimeType": "image/jpeg",
    }
    await simnet.post(
        "/control/inbound", {"from": BEN, "to": ANA, "message": {"type": "image", "image": image}}
    )
    got = await events.next(MessageIn)
    assert got.type == "image"
    assert got.content == {"caption": "sunset", "mimeType": "image/jpeg", "size": len(PHOTO)}
    assert got.media is not None
    assert (got.media.kind, got.media.mime_type, got.media.size) == (
        "image",
        "image/jpeg",
        len(PHOTO),
    )
    assert await client.download_media(got.media, max_bytes=len(PHOTO)) == PHOTO
    with pytest.raises(MediaUnavailable, match=r"over|larger"):
        await client.download_media(got.media, max_bytes=len(PHOTO) - 1)
    [entry] = await simnet.mailbox(ANA)
    assert entry["content"]["sha256"] == hashlib.sha256(PHOTO).hexdigest()


async def test_inbound_media_by_url_and_document_names(
    simnet: Simnet, pair: Pair, media_site: str
) -> None:
    client, events = await pair(ANA)
    document = {"url": f"{media_site}/files/photo.jpg", "mimeType": "application/pdf"}
    await simnet.post(
        "/control/inbound",
        {"from": BEN, "to": ANA, "message": {"type": "document", "document": document}},
    )
    got = await events.next(MessageIn)
    assert got.content["fileName"] == "photo.jpg" and got.content["size"] == len(PHOTO)
    assert got.media is not None and got.media.file_name == "photo.jpg"
    assert await client.download_media(got.media, max_bytes=10_000_000) == PHOTO

    missing = {"url": f"{media_site}/files/none.jpg"}
    status, answer = await simnet.call(
        "POST",
        "/control/inbound",
        {"from": BEN, "to": ANA, "message": {"type": "image", "image": missing}},
    )
    assert status == 400 and "404" in answer["error"]


async def test_media_between_two_devices(pair: Pair) -> None:
    ana, _ = await pair(ANA)
    ben, ben_events = await pair(BEN)
    voice = b"OggS" + b"\x01" * 3000
    message = OutboundMessage(f"{BEN}@s.whatsapp.net", Media("audio", voice, "audio/ogg", ptt=True))
    await ana.send(message, None)
    got = await ben_events.next(MessageIn)
    assert got.type == "audio" and got.content["ptt"] is True and got.media is not None
    assert await ben.download_media(got.media, max_bytes=1 << 20) == voice


async def test_unknown_media_is_unavailable(pair: Pair) -> None:
    client, _ = await pair(ANA)
    ref = MediaRef(kind="image", mime_type="image/jpeg", size=1, token={"media_id": "0" * 64})
    with pytest.raises(MediaUnavailable, match="404"):
        await client.download_media(ref, max_bytes=100)
    foreign = MediaRef(kind="image", mime_type="image/jpeg", size=1, token={"url": "x"})
    with pytest.raises(MediaUnavailable):
        await client.download_media(foreign, max_bytes=100)
