"""Media blobs: kept by sha256, served at `GET /media/<sha256>` like WhatsApp's media CDN.

Messages carry only a reference (the sha256, mime type and size); the receiving client
downloads the bytes over HTTP, which is where zaphubd enforces its size limit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

log = logging.getLogger("zaphubd.simnet")

HTTP_CLIENT = web.AppKey("simnet_http_client", aiohttp.ClientSession)
MAX_FETCH_BYTES = 64 * 1024 * 1024
FETCH_TIMEOUT_S = 30.0
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class MediaFetchFailed(Exception):
    """A media URL given to the control API could not be downloaded."""


class MediaStore:
    """Blobs by sha256; `unsaved` lists those the state file does not hold yet."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.mime_types: dict[str, str] = {}
        self.unsaved: set[str] = set()

    def put(self, sha256: str, blob: bytes, mime_type: str) -> None:
        if sha256 not in self.blobs:
            self.blobs[sha256] = blob
            self.mime_types[sha256] = mime_type
            self.unsaved.add(sha256)

    def get(self, sha256: str) -> tuple[bytes, str] | None:
        blob = self.blobs.get(sha256)
        if blob is None:
            return None
        return blob, self.mime_types.get(sha256, "application/octet-stream")

    def clear(self) -> None:
        self.blobs.clear()
        self.mime_types.clear()
        self.unsaved.clear()


def is_media_id(value: str) -> bool:
    return bool(_SHA256.match(value))


def make_media_handler(
    store: MediaStore,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        media_id = request.match_info["media_id"]
        found = store.get(media_id) if is_media_id(media_id) else None
        if found is None:
            raise web.HTTPNotFound(text="unknown media")
        blob, mime_type = found
        return web.Response(body=blob, content_type=_base_mime(mime_type))

    return handle


def _base_mime(mime_type: str) -> str:
    # aiohttp wants parameters (`; codecs=opus`) apart from the content type itself.
    return mime_type.split(";", 1)[0].strip() or "application/octet-stream"


async def fetch_url(session: aiohttp.ClientSession, url: str) -> bytes:
    """Download a media URL for `POST /control/inbound`, capped and with a timeout."""
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
    try:
        async with session.get(url, timeout=timeout) as response:
            if response.status != 200:
                raise MediaFetchFailed(f"{url} answered HTTP {response.status}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                body.extend(chunk)
                if len(body) > MAX_FETCH_BYTES:
                    raise MediaFetchFailed(f"{url} is larger than {MAX_FETCH_BYTES} bytes")
            return bytes(body)
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        raise MediaFetchFailed(f"{url} could not be fetched: {err}") from err
