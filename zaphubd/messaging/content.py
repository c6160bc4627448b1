"""From a stored send (`messages.content`) to the transport's OutboundMessage.

Media given by URL is downloaded here, in the send worker (never in the HTTP handler), through
the guarded, size-capped downloader; base64 data is decoded under the same cap; an uploaded
file (multipart) is read from where it was staged (`uploads.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import aiohttp

from zaphubd.db.messages import MessageRow
from zaphubd.media import MediaError, MediaFile, check_kind, decode_base64, download
from zaphubd.media_store.base import StoreError
from zaphubd.messaging.uploads import Uploads
from zaphubd.transport.outbound import (
    Contact,
    Content,
    Edit,
    Location,
    Media,
    MediaKind,
    OutboundMessage,
    Poll,
    Quoted,
    Reaction,
    Revoke,
    Text,
)

MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_bytes: int
    timeout_s: float
    allow_private: bool


class MediaFetcher:
    """Gets the bytes of a media send: downloaded (guarded) or decoded, then type-checked."""

    def __init__(
        self, http: aiohttp.ClientSession, limits: MediaLimits, uploads: Uploads | None = None
    ) -> None:
        self._http = http
        self._limits = limits
        self._uploads = uploads

    async def release(self, row: MessageRow) -> None:
        """The send is over (sent or dlq): its uploaded file, if any, is not needed again."""
        upload = row.content.get("_upload")
        if isinstance(upload, dict) and self._uploads is not None:
            await self._uploads.release(upload["key"])

    async def _uploaded(self, upload: dict[str, Any]) -> MediaFile:
        if self._uploads is None:
            raise MediaError("this node has no media store for uploaded files")
        try:
            data = await self._uploads.load(upload["key"])
        except StoreError as err:
            raise MediaError(f"uploaded file not readable: {err}", permanent=False) from err
        if data is None:
            raise MediaError("the uploaded file is gone from the media store")
        return MediaFile(data, upload.get("mimeType") or "", upload.get("fileName"))

    async def fetch(
        self, kind: MediaKind, spec: dict[str, Any], max_bytes: int | None = None
    ) -> MediaFile:
        """`max_bytes` lowers the configured cap for this fetch (profile pictures)."""
        limits = self._limits
        cap = limits.max_bytes if max_bytes is None else min(max_bytes, limits.max_bytes)
        if isinstance(spec.get("_upload"), dict):
            file = await self._uploaded(spec["_upload"])
        elif "data" in spec:
            data = decode_base64(spec["data"], max_bytes=cap)
            file = MediaFile(data, spec.get("mimeType") or "", spec.get("fileName"))
        else:
            file = await download(
                self._http,
                spec["url"],
                max_bytes=cap,
                timeout_s=limits.timeout_s,
                allow_private=limits.allow_private,
            )
        mime = check_kind(kind, file.data, spec.get("mimeType"), file.mime_type or None)
        return MediaFile(file.data, mime, spec.get("fileName") or file.file_name)


async def build_outbound(
    row: MessageRow, media: MediaFetcher, target_is_ours: bool, quoted_is_ours: bool = False
) -> OutboundMessage:
    """The message to hand to the transport. Raises MediaError for unusable media.
    `target_is_ours`: a reaction's message is one we sent; `quoted_is_ours`: the reply's."""
    content = row.content
    quoted = Quoted(content["quoted"], from_me=quoted_is_ours) if content.get("quoted") else None
    return OutboundMessage(
        to=row.to_jid,
        content=await _content(row.type, content, media, target_is_ours),
        quoted=quoted,
        mentions=tuple(content.get("mentions", ())),
        status_jid_list=tuple(content.get("statusJidList", ())),
        forwarded=bool(content.get("forwarded", False)),
    )


async def _content(
    kind: str, c: dict[str, Any], media: MediaFetcher, target_is_ours: bool
) -> Content:
    if kind == "text":
        return Text(c["text"])
    if kind in MEDIA_KINDS:
        file = await media.fetch(cast(MediaKind, kind), c)
        return Media(
            kind=cast(MediaKind, kind),
            data=file.data,
            mime_type=file.mime_type,
            caption=c.get("caption"),
            file_name=file.file_name if kind == "document" else None,
            ptt=bool(c.get("ptt", False)),
            gif_playback=bool(c.get("gifPlayback", False)),
        )
    if kind == "location":
        return Location(c["latitude"], c["longitude"], c.get("name"), c.get("address"))
    if kind == "contact":
        return Contact(c["displayName"], c["vcard"])
    if kind == "reaction":
        return Reaction(
            c["messageId"], c["emoji"], from_me=target_is_ours, participant=c.get("participant")
        )
    if kind == "poll":
        return Poll(c["name"], tuple(c["options"]), int(c.get("selectableCount", 1)))
    if kind == "edit":
        return Edit(c["messageId"], c["text"])
    if kind == "revoke":
        return Revoke(c["messageId"], bool(c.get("fromMe", True)), c.get("participant"))
    raise MediaError(f"cannot send a message of type {kind!r}", permanent=True)
