"""The API side of media kept by the daemon: multipart sends (the file staged for the send
worker) and inbound media served from the media store."""

from __future__ import annotations

import hashlib
import logging
from typing import Any, TypeVar

import marshmallow as ma
from aiohttp import web
from aiohttp_apigami.utils import get_or_set_apispec

from zaphubd.db.messages import MessageRow
from zaphubd.errors import ValidationFailed
from zaphubd.http import appkeys
from zaphubd.http.message_schemas import UPLOADING, SendMessageSchema
from zaphubd.http.multipart import FILE_PART, PAYLOAD_PART, MultipartSend, read_multipart_send
from zaphubd.http.parsing import describe, flatten_errors
from zaphubd.media import MediaError, check_kind_named
from zaphubd.media_store.base import StoreError, check_key
from zaphubd.messaging.content import MEDIA_KINDS

log = logging.getLogger("zaphubd.http")

UPLOAD_SCHEMA = SendMessageSchema()
T = TypeVar("T")


async def multipart_body(request: web.Request) -> dict[str, Any]:
    """A multipart send as the JSON route's validated body, its file staged (`_upload`)."""
    settings = request.app[appkeys.SETTINGS]
    async with request.app[appkeys.UPLOAD_SLOTS]:
        sent = await read_multipart_send(request, settings.media_max_bytes)
        body = _validated(sent.payload)
        spec = body[body["type"]]
        mime = _checked_mime(body["type"], sent, spec.get("mimeType"))
        key = await request.app[appkeys.UPLOADS].stage(sent.file.data)
    spec.pop("mimeType", None)
    spec["_upload"] = {
        "key": key,
        "mimeType": mime,
        "size": len(sent.file.data),
        "sha256": hashlib.sha256(sent.file.data).hexdigest(),
        "fileName": spec.get("fileName") or sent.file.file_name,
    }
    return body


def staged_key_of(body: dict[str, Any]) -> str | None:
    spec = body.get(body.get("type", ""))
    upload = spec.get("_upload") if isinstance(spec, dict) else None
    return str(upload["key"]) if isinstance(upload, dict) else None


def _validated(payload: dict[str, Any]) -> dict[str, Any]:
    kind = payload.get("type")
    if kind not in MEDIA_KINDS:
        detail = "with a file part, type must be one of " + ", ".join(MEDIA_KINDS)
        raise ValidationFailed(detail, {f"{PAYLOAD_PART}.type": [detail]})
    payload = {**payload, kind: payload.get(kind, {})}
    token = UPLOADING.set(True)
    try:
        data: dict[str, Any] = UPLOAD_SCHEMA.load(payload)
    except ma.ValidationError as err:
        details = flatten_errors(err.messages, PAYLOAD_PART)
        raise ValidationFailed(describe(details), details) from None
    finally:
        UPLOADING.reset(token)
    return data


def _checked_mime(kind: str, sent: MultipartSend, declared: str | None) -> str:
    try:
        return check_kind_named(kind, sent.file.data, declared, sent.file.content_type)
    except MediaError as err:
        raise ValidationFailed(err.message, {FILE_PART: [err.message]}) from None


async def stored_media(request: web.Request, row: MessageRow) -> web.Response | None:
    """The kept copy of a message's media, or None (not kept, or unreadable: go live)."""
    stored = row.content.get("_stored")
    if not isinstance(stored, dict):
        return None
    try:
        data = await request.app[appkeys.MEDIA_STORE].get(check_key(str(stored["key"])))
    except (StoreError, ValueError, KeyError) as err:
        log.warning("stored media of message %s not readable, downloading it: %s", row.id, err)
        return None
    if data is None:
        return None
    return media_response(data, str(stored["mimeType"]), stored.get("fileName") or row.message_id)


async def forget_stored_media(request: web.Request, row: MessageRow) -> None:
    """Remove the kept copy of a message deleted for me: its media goes with it. A copy the
    store cannot remove now is logged (the session's prefix goes when the session does)."""
    stored = row.content.get("_stored")
    if not isinstance(stored, dict):
        return
    try:
        await request.app[appkeys.MEDIA_STORE].delete([check_key(str(stored["key"]))])
    except (StoreError, ValueError, KeyError) as err:
        log.warning("stored media of deleted message %s not removed: %s", row.id, err)


def media_response(data: bytes, mime_type: str, name: str) -> web.Response:
    headers = {
        "Content-Type": mime_type,
        "Content-Disposition": f'attachment; filename="{safe_name(name)}"',
        # The type is the sniffed one; a browser must not guess another (an HTML "document").
        "X-Content-Type-Options": "nosniff",
    }
    return web.Response(body=data, headers=headers)


def safe_name(name: str) -> str:
    # ASCII only: the name comes from a contact or a client and ends up in a header.
    kept = (ch for ch in name if ch.isascii() and (ch.isalnum() or ch in "._-"))
    return "".join(kept)[:120] or "media"


async def release_staged(request: web.Request, key: str | None) -> None:
    """A staged file whose send was not accepted (a repeat, an error) goes at once."""
    if key is not None:
        await request.app[appkeys.UPLOADS].release(key)


def documents_send_body(handler: T) -> T:
    """The send route's OpenAPI request body: the JSON object, or multipart/form-data with
    that object as the `payload` part and the media as the `file` part."""
    multipart = {
        "schema": {
            "type": "object",
            "required": [PAYLOAD_PART, FILE_PART],
            "properties": {
                PAYLOAD_PART: {
                    "type": "string",
                    "description": "the JSON send body; its media object (e.g. `image`) "
                    "holds caption/fileName/ptt... but no url or data",
                },
                FILE_PART: {"type": "string", "format": "binary"},
            },
        },
        "encoding": {PAYLOAD_PART: {"contentType": "application/json"}},
    }
    get_or_set_apispec(handler)["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {"schema": SendMessageSchema()},
            "multipart/form-data": multipart,
        },
    }
    return handler
