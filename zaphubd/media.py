"""Media for outbound messages: guarded streamed download, base64 decoding, type checks.

Everything here runs in the send worker, never in an HTTP handler: a download can take up to
ZAPHUB_MEDIA_TIMEOUT_S. Both paths cap the size at ZAPHUB_MEDIA_MAX_BYTES before holding
more than that in memory, and `check_kind` trusts the bytes, not the declared type.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from dataclasses import dataclass
from typing import cast

import aiohttp
import magic

from zaphubd.errors import ZaphubError
from zaphubd.netguard import UrlRefused, request_following_redirects
from zaphubd.transport.outbound import MediaKind

CHUNK_BYTES = 64 * 1024
SNIFF_BYTES = 4096
MAX_FILE_NAME_CHARS = 255
OCTET_STREAM = "application/octet-stream"
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
# libmagic names an Ogg/Opus voice note either way, depending on its version.
OGG_TYPES = frozenset({"application/ogg", "audio/ogg"})
# Rate limits and request timeouts clear up by themselves; other 4xx answers do not.
TRANSIENT_4XX = frozenset({408, 425, 429})
_DATA_URL = re.compile(r"data:(?P<mime>[^,;]*)(?P<params>(?:;[^,;]*)*),", re.IGNORECASE)
_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_PRIVATE_HINT = " (ZAPHUB_MEDIA_ALLOW_PRIVATE=true allows private addresses)"


class MediaError(ZaphubError):
    """Media that cannot be sent. `permanent`: retrying the same send cannot help."""

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True, repr=False)
class MediaFile:
    data: bytes
    mime_type: str  # as declared by the source ("" when it declared none); see check_kind
    file_name: str | None

    def __repr__(self) -> str:  # the bytes would flood logs and tracebacks
        return (
            f"MediaFile(mime_type={self.mime_type!r}, file_name={self.file_name!r}, "
            f"size={len(self.data)})"
        )


async def download(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_private: bool,
) -> MediaFile:
    """Fetch `url` through the SSRF guard, at most `max_bytes`, within `timeout_s` overall.

    `session` should come from `netguard.guarded_session`. Raises MediaError: permanent for
    refused URLs, 4xx answers and oversize bodies; transient for 5xx, timeouts and network
    errors.
    """
    try:
        async with asyncio.timeout(timeout_s):
            return await _fetch(session, url, max_bytes=max_bytes, allow_private=allow_private)
    except TimeoutError as err:
        raise MediaError(
            f"media download timed out after {timeout_s:g} s", permanent=False
        ) from err
    except UrlRefused as err:
        hint = "" if allow_private else _PRIVATE_HINT
        raise MediaError(f"media URL refused: {err}{hint}") from err
    except (aiohttp.InvalidURL, aiohttp.ClientConnectorCertificateError) as err:
        raise MediaError(f"media download failed: {err}") from err
    except aiohttp.ClientError as err:
        raise MediaError(f"media download failed: {err}", permanent=False) from err


async def _fetch(
    session: aiohttp.ClientSession, url: str, *, max_bytes: int, allow_private: bool
) -> MediaFile:
    response = await request_following_redirects(
        session,
        "GET",
        url,
        allow_private=allow_private,
        # Compressed transfer would make Content-Length say nothing about the real size.
        headers={aiohttp.hdrs.ACCEPT_ENCODING: "identity"},
    )
    async with response:
        _check_status(response)
        data = await _read_capped(response, max_bytes)
        header_mime = response.content_type if aiohttp.hdrs.CONTENT_TYPE in response.headers else ""
        return MediaFile(data, header_mime, _file_name(response))


def _check_status(response: aiohttp.ClientResponse) -> None:
    status = response.status
    if 200 <= status < 300:
        return
    reason = f"media download failed: HTTP {status} {response.reason or ''}".rstrip()
    raise MediaError(reason, permanent=status < 500 and status not in TRANSIENT_4XX)


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if response.content_length is not None and response.content_length > max_bytes:
        response.close()
        raise _too_large(max_bytes, f"{response.content_length} bytes announced")
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            # close(), not release(): drop the connection instead of draining the rest.
            response.close()
            raise _too_large(max_bytes, "the body kept coming")
    return bytes(body)


def _too_large(max_bytes: int, detail: str) -> MediaError:
    return MediaError(f"media is larger than the {max_bytes}-byte limit ({detail})")


def _file_name(response: aiohttp.ClientResponse) -> str | None:
    disposition = response.content_disposition
    candidate = disposition.filename if disposition is not None else None
    return clean_file_name(candidate or response.url.name)


def clean_file_name(name: str | None) -> str | None:
    # A server-chosen name ends up in a chat; strip paths and control characters from it.
    if not name:
        return None
    base = re.split(r"[/\\]", name)[-1]
    cleaned = _UNSAFE_NAME_CHARS.sub("_", base).strip()
    return cleaned[:MAX_FILE_NAME_CHARS] or None


def decode_base64(data: str, *, max_bytes: int) -> bytes:
    """Decode plain base64 or a `data:<mime>;base64,...` URL, refusing oversize input
    before decoding it. Line breaks and spaces are tolerated; anything else outside the
    standard alphabet is a permanent MediaError."""
    payload = "".join(_strip_data_url(data).split())
    padding = len(payload) - len(payload.rstrip("="))
    if len(payload) // 4 * 3 - padding > max_bytes:
        raise _too_large(max_bytes, f"{len(payload)} base64 characters")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as err:
        raise MediaError(f"media data is not valid base64: {err}") from err


def data_url_mime_type(data: str) -> str | None:
    """The MIME type a `data:` URL declares, or None for plain base64 or none declared."""
    match = _DATA_URL.match(data)
    return (match.group("mime").strip().lower() or None) if match else None


def _strip_data_url(data: str) -> str:
    if data[:5].lower() != "data:":
        return data
    match = _DATA_URL.match(data)
    if match is None or ";base64" not in match.group("params").lower():
        raise MediaError("media data URL must be of the form data:<mime>;base64,<data>")
    return data[match.end() :]


def sniff_mime_type(data: bytes) -> str:
    """The MIME type libmagic reads from the first bytes of `data`."""
    return str(magic.from_buffer(data[:SNIFF_BYTES], mime=True))


def check_kind(
    kind: MediaKind, data: bytes, declared_mime: str | None, header_mime: str | None
) -> str:
    """The MIME type to send `data` as a `kind` message with; MediaError if it is not one.

    The type is sniffed from the bytes. A declared type is kept when it names the same type
    (it may carry useful parameters such as `codecs=opus`); otherwise the sniffed one wins.
    Documents accept anything: the declared type, else the sniffed, else the header's.
    """
    if not data:
        raise MediaError(f"{kind}: the file is empty")
    sniffed = sniff_mime_type(data)
    if kind == "document":
        return _document_mime(declared_mime, sniffed, header_mime)
    if not _fits(kind, sniffed):
        raise MediaError(f"{kind}: the file is {sniffed}, not {_EXPECTED[kind]}")
    if kind == "audio" and sniffed in OGG_TYPES:
        sniffed = "audio/ogg"
    return _prefer_declared(declared_mime, sniffed)


def check_kind_named(
    kind: str, data: bytes, declared_mime: str | None, header_mime: str | None
) -> str:
    """`check_kind` for a kind given by name (an API body); MediaError for a non-media kind."""
    if kind != "document" and kind not in _EXPECTED:
        raise MediaError(f"{kind} is not a media type")
    return check_kind(cast(MediaKind, kind), data, declared_mime, header_mime)


_EXPECTED: dict[str, str] = {
    "image": "an image (JPEG, PNG, WebP or GIF)",
    "video": "a video",
    "audio": "an audio file",
    "sticker": "a WebP image",
}


def _fits(kind: MediaKind, sniffed: str) -> bool:
    if kind == "image":
        return sniffed in IMAGE_TYPES
    if kind == "sticker":
        return sniffed == "image/webp"
    if kind == "video":
        return sniffed.startswith("video/")
    return sniffed.startswith("audio/") or sniffed in OGG_TYPES


def _essence(mime: str | None) -> str:
    return (mime or "").split(";", 1)[0].strip().lower()


def _prefer_declared(declared: str | None, sniffed: str) -> str:
    if declared and _essence(declared) == sniffed:
        return declared.strip()
    return sniffed


def _document_mime(declared: str | None, sniffed: str, header: str | None) -> str:
    if declared and declared.strip():
        return declared.strip()
    if sniffed != OCTET_STREAM:
        return sniffed
    return header.strip() if header and header.strip() else OCTET_STREAM
