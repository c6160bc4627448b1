"""Message content in the API.md send shapes: validated, and reduced to what is shown.

Both a device's send frame and `POST /control/inbound` carry content as
`{type, <type>: {...}}` (text: `{type: "text", text: "..."}`). `normalise` checks it and
returns the content a mailbox shows and a receiving device gets: the fields of events.py per
type, and for media the size and sha256 of the bytes instead of the bytes themselves.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from dataclasses import dataclass
from typing import Any

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
DEFAULT_MIME = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg; codecs=opus",
    "document": "application/octet-stream",
    "sticker": "image/webp",
}
MAX_TEXT = 65536


class ContentError(ValueError):
    """The content does not match its type's shape; the message says which field."""


@dataclass(frozen=True, slots=True)
class Normalised:
    """Checked content: `content` never holds raw bytes; `blob` is the media, if any."""

    type: str
    content: dict[str, Any]
    blob: bytes | None = None


def media_url(message: Any) -> str | None:
    """The URL a media message points at when it carries no inline data."""
    if not isinstance(message, dict) or message.get("type") not in MEDIA_TYPES:
        return None
    body = message.get(message["type"])
    if isinstance(body, dict) and body.get("data") is None:
        url = body.get("url")
        return url if isinstance(url, str) and url else None
    return None


def normalise(message: Any, fetched: bytes | None = None) -> Normalised:
    """Check `message` and reduce it; `fetched` is media already downloaded from its URL."""
    if not isinstance(message, dict):
        raise ContentError("message must be an object")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in _TYPES:
        raise ContentError(f"type must be one of {', '.join(sorted(_TYPES))}")
    if kind == "text":
        return Normalised("text", {"text": _text(message.get("text"), "text")})
    if kind in MEDIA_TYPES:
        return _media(kind, _body(message, kind), fetched)
    return Normalised(kind, _BUILDERS[kind](_body(message, kind)))


def _body(message: dict[str, Any], kind: str) -> dict[str, Any]:
    body = message.get(kind)
    if not isinstance(body, dict):
        raise ContentError(f"{kind} must be an object")
    return body


def _text(value: Any, name: str, *, max_len: int = MAX_TEXT, empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty) or len(value) > max_len:
        raise ContentError(f"{name} must be a string of 1-{max_len} characters")
    return value


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContentError(f"{name} must be a string")
    return value


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ContentError(f"{name} must be a boolean")
    return value


def _media_bytes(kind: str, body: dict[str, Any], fetched: bytes | None) -> bytes:
    if fetched is not None:
        return fetched
    data = body.get("data")
    if not isinstance(data, str) or not data:
        raise ContentError(f"{kind}.data (base64) or {kind}.url is required")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ContentError(f"{kind}.data is not valid base64") from err


def _media(kind: str, body: dict[str, Any], fetched: bytes | None) -> Normalised:
    blob = _media_bytes(kind, body, fetched)
    content: dict[str, Any] = {
        "caption": _optional_text(body, "caption"),
        "mimeType": _optional_text(body, "mimeType") or DEFAULT_MIME[kind],
        "size": len(blob),
        "sha256": hashlib.sha256(blob).hexdigest(),
    }
    if kind == "document":
        content["fileName"] = _optional_text(body, "fileName") or _file_name(body)
    if kind == "audio":
        content["ptt"] = _flag(body, "ptt")
    if kind == "video":
        content["gifPlayback"] = _flag(body, "gifPlayback")
    return Normalised(kind, content, blob)


def _file_name(body: dict[str, Any]) -> str:
    url = body.get("url")
    tail = url.rsplit("/", 1)[-1].split("?", 1)[0] if isinstance(url, str) else ""
    return tail or "file"


def _number(body: dict[str, Any], name: str, limit: float) -> float:
    value = body.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        value = math.nan
    if not math.isfinite(value) or abs(value) > limit:
        raise ContentError(f"{name} must be a number between -{limit:g} and {limit:g}")
    return float(value)


def _location(body: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {
        "latitude": _number(body, "latitude", 90),
        "longitude": _number(body, "longitude", 180),
    }
    for name in ("name", "address"):
        value = _optional_text(body, name)
        if value is not None:
            content[name] = value
    return content


def _contact(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "displayName": _text(body.get("displayName"), "displayName", max_len=1024),
        "vcard": _text(body.get("vcard"), "vcard"),
    }


def _reaction(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": _text(body.get("messageId"), "messageId", max_len=255),
        "emoji": _text(body.get("emoji"), "emoji", max_len=32, empty=True),
    }


def _poll(body: dict[str, Any]) -> dict[str, Any]:
    options = body.get("options")
    if not isinstance(options, list) or not 2 <= len(options) <= 12:
        raise ContentError("options must be a list of 2-12 strings")
    names = [_text(option, "options[]", max_len=255) for option in options]
    count = body.get("selectableCount", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= len(names):
        raise ContentError("selectableCount must be an integer from 0 to the number of options")
    return {
        "name": _text(body.get("name"), "name", max_len=255),
        "options": names,
        "selectableCount": count,
    }


def _edit(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": _text(body.get("messageId"), "messageId", max_len=255),
        "text": _text(body.get("text"), "text"),
    }


def _revoke(body: dict[str, Any]) -> dict[str, Any]:
    content = {"messageId": _text(body.get("messageId"), "messageId", max_len=255)}
    participant = _optional_text(body, "participant")
    if participant:  # a group admin revoking another member's message names its author
        content["participant"] = participant
    return content


_BUILDERS = {
    "location": _location,
    "contact": _contact,
    "reaction": _reaction,
    "poll": _poll,
    "edit": _edit,
    "revoke": _revoke,
}
_TYPES = MEDIA_TYPES | _BUILDERS.keys() | {"text"}
