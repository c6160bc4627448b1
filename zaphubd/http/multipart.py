"""`multipart/form-data` sends: a `payload` part with the JSON body and a `file` part with
the media, read with aiohttp's own streaming multipart reader.

aiohttp's reader is enough: it yields one part at a time and `read_chunk` lets the file be
read in pieces, so the size cap is enforced while reading (413 as soon as the file passes
ZAPHUB_MEDIA_MAX_BYTES, without buffering the rest), and the whole body is never held.
Any other part name, a part twice, a nested multipart or a missing part is a 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import BodyPartReader, web
from aiohttp.hdrs import CONTENT_TYPE
from aiohttp.http_exceptions import HttpProcessingError

from zaphubd.errors import PayloadTooLarge, ValidationFailed
from zaphubd.media import clean_file_name

PAYLOAD_PART = "payload"
FILE_PART = "file"
#: The JSON part is small: the media itself is the file part.
PAYLOAD_MAX_BYTES = 256 * 1024
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True, repr=False)
class UploadedFile:
    data: bytes
    #: The part's declared Content-Type, "" when none (the bytes are sniffed anyway).
    content_type: str
    file_name: str | None


@dataclass(frozen=True, repr=False)
class MultipartSend:
    payload: dict[str, Any]
    file: UploadedFile


def is_multipart(request: web.Request) -> bool:
    return request.content_type == "multipart/form-data"


async def read_multipart_send(request: web.Request, max_file_bytes: int) -> MultipartSend:
    """The payload (decoded JSON, not validated yet) and the file of a multipart send."""
    announced = request.content_length
    if announced is not None and announced > max_file_bytes + PAYLOAD_MAX_BYTES + 64 * 1024:
        raise _too_large(max_file_bytes)
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError) as err:
        raise ValidationFailed(f"malformed multipart body: {err}") from None
    payload: dict[str, Any] | None = None
    file: UploadedFile | None = None
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ValidationFailed("nested multipart parts are not accepted")
            if part.name == PAYLOAD_PART and payload is None:
                payload = _json(await _read(part, PAYLOAD_MAX_BYTES, "payload"))
            elif part.name == FILE_PART and file is None:
                data = await _read(part, max_file_bytes, "file")
                name = clean_file_name(part.filename)
                file = UploadedFile(data, part.headers.get(CONTENT_TYPE, ""), name)
            else:
                raise _bad_part(part.name)
    except (ValueError, RuntimeError, AssertionError, HttpProcessingError) as err:
        # A part's headers that do not parse, a boundary that never ends...: the client's.
        raise ValidationFailed(f"malformed multipart body: {type(err).__name__}") from None
    return _complete(payload, file)


def _complete(payload: dict[str, Any] | None, file: UploadedFile | None) -> MultipartSend:
    missing = [n for n, v in ((PAYLOAD_PART, payload), (FILE_PART, file)) if v is None]
    if missing:
        details = {name: ["this part is required"] for name in missing}
        raise ValidationFailed("multipart send needs a payload part and a file part", details)
    assert payload is not None and file is not None
    return MultipartSend(payload, file)


async def _read(part: BodyPartReader, limit: int, what: str) -> bytes:
    body = bytearray()
    while chunk := await part.read_chunk(CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            if what == "file":
                raise _too_large(limit)
            raise ValidationFailed(f"the payload part is over {limit} bytes")
    return bytes(body)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ValidationFailed(f"the payload part is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValidationFailed("the payload part must be a JSON object")
    return data


def _bad_part(name: str | None) -> ValidationFailed:
    shown = (name or "(unnamed)")[:64]
    return ValidationFailed(
        f"unexpected multipart part {shown!r}: send one payload part and one file part",
        {"body": [f"unexpected part {shown!r}"]},
    )


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the uploaded file is over ZAPHUB_MEDIA_MAX_BYTES ({limit} bytes)")
