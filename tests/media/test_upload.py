"""Multipart sends end to end: the uploaded file reaches simnet's mailbox byte for byte, its
staged copy goes once sent, and every malformed upload is refused with its status."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tests.gateway import Gateway, StartGateway, eventually
from tests.messaging.conftest import PDF, png_bytes
from tests.messaging.test_send import RECIPIENT, wait_mailbox, wait_message_status
from zaphubd.http import appkeys

MAX_BYTES = 64 * 1024
SENDER = "5511977771111"


def form(payload: Any, file: bytes | None, **file_options: str) -> aiohttp.FormData:
    data = aiohttp.FormData()
    if payload is not None:
        raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        data.add_field("payload", io.BytesIO(raw), content_type="application/json")
    if file is not None:
        options = {"filename": "upload.bin", "content_type": "application/octet-stream"}
        data.add_field("file", io.BytesIO(file), **(options | file_options))
    return data


async def upload(gw: Gateway, sid: str, data: aiohttp.FormData) -> tuple[int, dict[str, Any]]:
    resp = await gw.api.post(f"/api/v1/sessions/{sid}/messages", data=data)
    return resp.status, await resp.json()


def staged(gw: Gateway) -> list[Path]:
    root = gw.auth_dir.parent / "media" / "staged"
    return list(root.iterdir()) if root.is_dir() else []


async def cdn_bytes(gw: Gateway, sha256: str) -> bytes:
    url = f"http://127.0.0.1:{gw.net.port}/media/{sha256}"
    async with gw.net.http.get(url) as resp:
        assert resp.status == 200
        return await resp.read()


async def test_uploaded_files_are_sent_and_bad_uploads_refused(gateway: StartGateway) -> None:
    gw = await gateway(media_max_bytes=MAX_BYTES)
    sid = (await gw.connect(SENDER))["id"]
    png = png_bytes()
    image = {"messageId": "up-1", "to": RECIPIENT, "type": "image", "image": {"caption": "hi"}}
    status, body = await upload(gw, sid, form(image, png, filename="../../etc/x.png"))
    assert status == 201, body
    document = {"messageId": "up-2", "to": RECIPIENT, "type": "document"}
    status, body = await upload(gw, sid, form(document, PDF, filename="report.pdf"))
    assert status == 201, body
    box = await wait_mailbox(gw, 2)
    sent_image, sent_document = (m["content"] for m in box)
    assert sent_image["caption"] == "hi" and sent_image["mimeType"] == "image/png"
    assert sent_image["sha256"] == hashlib.sha256(png).hexdigest()
    assert await cdn_bytes(gw, sent_image["sha256"]) == png
    assert sent_document["fileName"] == "report.pdf"
    assert sent_document["mimeType"] == "application/pdf"
    assert await cdn_bytes(gw, sent_document["sha256"]) == PDF
    row = await wait_message_status(gw, sid, "up-1", "sent", "delivered", "read")
    assert "_upload" not in row["content"] and row["content"]["caption"] == "hi"
    await eventually(lambda: _async(not staged(gw)))  # sent: the staged files are gone

    # A repeated messageId is the first send; its second file is not kept.
    status, body = await upload(gw, sid, form(image, png))
    assert status == 200 and body["data"]["messageId"] == "up-1"
    assert staged(gw) == []

    refused = [
        (form(image | {"messageId": "big"}, png + b"\0" * MAX_BYTES), 413),
        (form(image | {"messageId": "pdf"}, PDF), 400),  # an image part that is a PDF
        (form(image | {"messageId": "nofile"}, None), 400),
        (form(None, png), 400),
        (form(b"[1, 2]", png), 400),
        (form(b"{not json", png), 400),
        (form({**image, "messageId": "url", "image": {"url": "https://x.test/a.png"}}, png), 400),
        (form({"messageId": "txt", "to": RECIPIENT, "type": "text", "text": "x"}, png), 400),
        (form({"messageId": "nomime", "type": "image", "image": {}}, png), 400),  # no `to`
    ]
    extra = form(image | {"messageId": "extra"}, png)
    extra.add_field("other", io.BytesIO(b"x"))
    refused.append((extra, 400))
    for data, expected in refused:
        status, body = await upload(gw, sid, data)
        assert status == expected, body
        assert body["success"] is False and body["error"]["message"]
    for raw in (b"--b\r\n[]--b--\r\n", b"no boundary at all", b"--b\r\nX: y\r\n\r\nab"):
        resp = await gw.api.post(
            f"/api/v1/sessions/{sid}/messages",
            data=raw,
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert resp.status == 400, await resp.text()
    unknown = "00000000-0000-4000-8000-000000000000"
    status, body = await upload(gw, unknown, form(image, png))
    assert status == 404, body
    assert staged(gw) == []
    assert len(await gw.net.mailbox(RECIPIENT)) == 2
    await swept_only_when_no_send_holds_it(gw, sid, image, png)


async def swept_only_when_no_send_holds_it(
    gw: Gateway, sid: str, image: dict[str, Any], png: bytes
) -> None:
    """What a crash leaves (a file staged, its row never written) goes after
    ZAPHUB_UPLOAD_STALE_S; the file of a send still waiting for its session stays."""
    await gw.net.post("/control/ban", {"phone": SENDER, "seconds": 60})

    async def away() -> bool:
        return (await gw.session(sid))["status"] != "connected"

    await eventually(away)
    status, body = await upload(gw, sid, form(image | {"messageId": "waits"}, png))
    assert status == 201, body
    uploads = gw.api.server.app[appkeys.UPLOADS]
    await uploads.stage(b"orphan")
    files = staged(gw)
    assert len(files) == 2
    old = time.time() - 2 * 3600
    for path in files:
        os.utime(path, (old, old))
    assert await uploads.sweep() == 1
    [kept] = staged(gw)
    assert kept.read_bytes() == png


async def _async(value: bool) -> bool:
    return value
