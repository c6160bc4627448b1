"""A local media server for send tests: real files of every kind, a 404 and an oversized one."""

from __future__ import annotations

import io
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from PIL import Image


def png_bytes(size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def webp_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (96, 96), (10, 200, 10, 255)).save(out, "WEBP")
    return out.getvalue()


def mp4_bytes() -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isommp41"
    free = struct.pack(">I", 16) + b"free" + b"\x00" * 8
    return ftyp + free + b"\x00" * 200


def ogg_bytes() -> bytes:
    # An Ogg page carrying an OpusHead: what a WhatsApp voice note is.
    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", 312, 48000, 0, 0)
    page = (
        b"OggS" + bytes([0, 2]) + b"\x00" * 8 + struct.pack("<III", 1, 0, 0) + bytes([1, len(head)])
    )
    return page + head + b"\x00" * 100


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class MediaServer:
    base: str
    files: dict[str, bytes]

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@pytest.fixture
async def media_server() -> AsyncIterator[MediaServer]:
    files = {
        "photo.png": png_bytes(),
        "clip.mp4": mp4_bytes(),
        "voice.ogg": ogg_bytes(),
        "report.pdf": PDF,
        "sticker.webp": webp_bytes(),
        "big.png": png_bytes() + b"\x00" * (3 * 1024 * 1024),
    }
    types = {
        "png": "image/png",
        "mp4": "video/mp4",
        "ogg": "audio/ogg",
        "pdf": "application/pdf",
        "webp": "image/webp",
    }

    async def serve(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in files:
            raise web.HTTPNotFound()
        return web.Response(body=files[name], content_type=types[name.rsplit(".", 1)[1]])

    app = web.Application()
    app.router.add_get("/media/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield MediaServer(f"http://127.0.0.1:{port}/media", files)
    await runner.cleanup()
