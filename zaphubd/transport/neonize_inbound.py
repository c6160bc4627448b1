"""neonize messages (protobuf) to the normalised `MessageIn` of `transport.events`: pure
functions; receipts, presence, calls and groups are in `neonize_updates`.

Every mapper takes one neonize event and returns the events it means (often one, none for
what zaphubd does not report, several for a group change). neonize ships no type stubs, so
the protobufs are `Any` here and nowhere past this module.

Units differ per field in neonize (message timestamps in milliseconds, receipts and calls in
seconds) and have changed between releases, so `to_datetime` tells them apart by size.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as waE2E

from zaphubd.transport.events import (
    HistorySync,
    InboundType,
    MediaRef,
    MessageIn,
    MessageUnreadable,
    TransportEvent,
    UnreadableReason,
)

Mapper = Callable[[Any], list[TransportEvent]]

#: Values at or above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 100_000_000_000
_PROTOCOL_REVOKE, _PROTOCOL_EDIT = 0, 14
MEDIA_FIELDS: dict[str, InboundType] = {
    "imageMessage": "image",
    "videoMessage": "video",
    "ptvMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
}
_POLL_FIELDS = (
    "pollCreationMessage",
    "pollCreationMessageV2",
    "pollCreationMessageV3",
    "pollCreationMessageV5",
    "pollCreationMessageV6",
)
# Fields that carry keys and bookkeeping, never something a user sent.
_PLUMBING = frozenset(
    {
        "senderKeyDistributionMessage",
        "fastRatchetKeySenderKeyDistributionMessage",
        "messageContextInfo",
        "protocolMessage",
    }
)


# -- JIDs and times ----------------------------------------------------------------------


def jid_text(jid: Any) -> str:
    """`user@server` without agent and device (`5511...:3@s.whatsapp.net` -> `5511...@...`)."""
    if not jid.User:
        return str(jid.Server)
    return f"{jid.User}@{jid.Server}"


def optional_jid(jid: Any) -> str | None:
    return jid_text(jid) if jid.User else None


def to_datetime(value: int) -> datetime:
    seconds = value / 1000 if abs(value) >= _MS_THRESHOLD else value
    return datetime.fromtimestamp(seconds, UTC)


def _text(value: str) -> str | None:
    return value or None


# -- messages ----------------------------------------------------------------------------


def map_message(ev: Any) -> list[TransportEvent]:
    """A `MessageEv`; nothing for pure key distribution and other protocol plumbing."""
    decoded = decode_content(ev.Message)
    if decoded is None:
        return []
    kind, content, media, context = decoded
    info = ev.Info
    source = info.MessageSource
    message = MessageIn(
        id=info.ID,
        chat=jid_text(source.Chat),
        sender=jid_text(source.Sender),
        type=kind,
        content=content,
        timestamp=to_datetime(info.Timestamp),
        from_me=source.IsFromMe,
        is_group=source.IsGroup,
        sender_alt=optional_jid(source.SenderAlt),
        push_name=_text(info.Pushname),
        quoted_id=_text(context.stanzaID) if context is not None else None,
        mentions=tuple(context.mentionedJID) if context is not None else (),
        media=media,
        forwarded=bool(context is not None and context.isForwarded),
    )
    return [message]


def map_message_safely(ev: Any) -> list[TransportEvent]:
    """`map_message`, and a message this build cannot read is reported, never dropped."""
    try:
        return map_message(ev)
    except Exception as err:  # a shape of message nobody here has seen: say so
        return [_unreadable(ev.Info, "unsupported", f"could not read it ({type(err).__name__})")]


#: Messages taken from one history sync chunk, at most (WhatsApp's chunks are far smaller).
HISTORY_CHUNK_MAX = 20_000


def map_history_sync(ev: Any, me: str | None = None) -> list[TransportEvent]:
    """A `HistorySync` chunk: its conversations' messages (what WhatsApp plumbing leaves
    unreadable is skipped, as for live ones) and the LID mappings it carries. `me`, the
    account's JID, is the sender of the messages it sent."""
    data = ev.Data
    messages: list[MessageIn] = []
    for conversation in data.conversations:
        for item in conversation.messages:
            message = _history_message(conversation.ID, item.message, me)
            if message is not None and len(messages) < HISTORY_CHUNK_MAX:
                messages.append(message)
    mappings = tuple(
        (m.lidJID, m.pnJID) for m in data.phoneNumberToLidMappings if m.lidJID and m.pnJID
    )
    return [HistorySync(tuple(messages), len(data.conversations), mappings)]


def _history_message(chat: str, info: Any, me: str | None) -> MessageIn | None:
    """A `WebMessageInfo` of a history sync, as a `MessageIn` flagged `history`."""
    decoded = decode_content(info.message)
    if decoded is None or not info.key.ID:
        return None
    kind, content, media, context = decoded
    chat = info.key.remoteJID or chat
    is_group = chat.endswith("@g.us")
    if info.key.fromMe and me:
        sender = me
    else:
        sender = (info.key.participant or info.participant) if is_group else chat
    return MessageIn(
        id=info.key.ID,
        chat=chat,
        sender=sender or chat,
        type=kind,
        content=content,
        timestamp=to_datetime(info.messageTimestamp),
        from_me=info.key.fromMe,
        is_group=is_group,
        push_name=_text(info.pushName),
        quoted_id=_text(context.stanzaID) if context is not None else None,
        mentions=tuple(context.mentionedJID) if context is not None else (),
        media=media,
        history=True,
    )


def map_undecryptable(ev: Any) -> list[TransportEvent]:
    """An `UndecryptableMessage`: whatsmeow has sent the retry receipt that asks the sender
    to send it again, so the message itself may still follow with the same id."""
    detail = (
        "not available on this device (sent to the phone only, or view once)"
        if ev.IsUnavailable
        else "could not be decrypted; the sender was asked to send it again"
    )
    return [_unreadable(ev.Info, "undecryptable", detail)]


def _unreadable(info: Any, reason: UnreadableReason, detail: str) -> MessageUnreadable:
    source = info.MessageSource
    return MessageUnreadable(
        id=info.ID,
        chat=jid_text(source.Chat),
        sender=jid_text(source.Sender),
        reason=reason,
        detail=detail,
    )


Decoded = tuple[InboundType, dict[str, Any], MediaRef | None, Any]


def decode_content(message: Any) -> Decoded | None:
    """(type, content, media, contextInfo) of a waE2E `Message`; None when nothing to report."""
    if message.HasField("editedMessage"):  # whatsmeow unwraps it; a raw one may still come
        return decode_content(message.editedMessage.message)
    if message.HasField("protocolMessage"):
        return _protocol(message.protocolMessage)
    if message.HasField("reactionMessage"):
        reaction = message.reactionMessage
        return "reaction", {"messageId": reaction.key.ID, "emoji": reaction.text}, None, None
    if message.HasField("conversation"):
        return "text", {"text": message.conversation}, None, None
    if message.HasField("extendedTextMessage"):
        sub = message.extendedTextMessage
        return "text", {"text": sub.text}, None, _context(sub)
    for field, kind in MEDIA_FIELDS.items():
        if message.HasField(field):
            return _media(field, kind, getattr(message, field))
    return _structured(message)


def _structured(message: Any) -> Decoded | None:
    if message.HasField("locationMessage"):
        sub = message.locationMessage
        return "location", _location(sub), None, _context(sub)
    if message.HasField("contactMessage"):
        sub = message.contactMessage
        return "contact", {"displayName": sub.displayName, "vcard": sub.vcard}, None, _context(sub)
    if message.HasField("contactsArrayMessage"):
        return _contacts(message.contactsArrayMessage)
    for field in _POLL_FIELDS:
        if message.HasField(field):
            return _poll(getattr(message, field))
    fields = [descriptor.name for descriptor, _ in message.ListFields()]
    visible = [name for name in fields if name not in _PLUMBING]
    if not visible:
        return None
    return "unknown", {"kind": visible[0]}, None, None


def _protocol(protocol: Any) -> Decoded | None:
    if protocol.type == _PROTOCOL_REVOKE:
        content = {"messageId": protocol.key.ID}
        if protocol.key.participant:  # an admin revoked another member's message
            content["participant"] = protocol.key.participant
        return "revoke", content, None, None
    if protocol.type == _PROTOCOL_EDIT:
        content = {"messageId": protocol.key.ID, "text": text_of(protocol.editedMessage)}
        return "edit", content, None, None
    return None  # history sync notices, key shares, ephemeral settings...


def text_of(message: Any) -> str:
    """The text a user sees in a message: its body, or a media caption."""
    if message.HasField("conversation"):
        return str(message.conversation)
    if message.HasField("extendedTextMessage"):
        return str(message.extendedTextMessage.text)
    for field in ("imageMessage", "videoMessage", "documentMessage"):
        if message.HasField(field):
            return str(getattr(message, field).caption)
    return ""


def _context(sub: Any) -> Any:
    return sub.contextInfo if sub.HasField("contextInfo") else None


def _location(location: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "latitude": location.degreesLatitude,
        "longitude": location.degreesLongitude,
    }
    if location.name:
        content["name"] = location.name
    if location.address:
        content["address"] = location.address
    return content


def _contacts(array: Any) -> Decoded:
    contacts = [{"displayName": c.displayName, "vcard": c.vcard} for c in array.contacts]
    first = contacts[0] if contacts else {"displayName": array.displayName, "vcard": ""}
    content = {**first, "contacts": contacts}
    return "contact", content, None, _context(array)


def _poll(poll: Any) -> Decoded:
    content = {
        "name": poll.name,
        "options": [option.optionName for option in poll.options],
        "selectableCount": poll.selectableOptionsCount,
    }
    return "poll", content, None, _context(poll)


# -- media -------------------------------------------------------------------------------


def _media(field: str, kind: InboundType, sub: Any) -> Decoded:
    size = int(sub.fileLength) if sub.HasField("fileLength") else None
    content: dict[str, Any] = {
        "caption": _text(sub.caption) if hasattr(sub, "caption") else None,
        "mimeType": sub.mimetype,
        "size": size,
        "sha256": sub.fileSHA256.hex() if sub.fileSHA256 else None,
    }
    file_name = None
    if kind == "document":
        file_name = _text(sub.fileName)
        content["fileName"] = file_name
    if kind == "audio":
        content["ptt"] = sub.PTT
    if field == "videoMessage":
        content["gifPlayback"] = sub.gifPlayback
    ref = MediaRef(kind, sub.mimetype, size, media_token(field, sub), file_name)
    return kind, content, ref, _context(sub)


def media_token(field: str, sub: Any) -> dict[str, Any]:
    """What `download_any` needs to fetch this media again, as JSON-safe values."""
    return {
        "field": field,
        "url": sub.URL,
        "directPath": sub.directPath,
        "mimetype": sub.mimetype,
        "fileLength": int(sub.fileLength),
        "mediaKey": _b64(sub.mediaKey),
        "fileSha256": _b64(sub.fileSHA256),
        "fileEncSha256": _b64(sub.fileEncSHA256),
    }


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


#: The waE2E class of each media field, to rebuild a message from its token.
_MEDIA_CLASSES = {
    "imageMessage": waE2E.ImageMessage,
    "videoMessage": waE2E.VideoMessage,
    "ptvMessage": waE2E.VideoMessage,
    "audioMessage": waE2E.AudioMessage,
    "documentMessage": waE2E.DocumentMessage,
    "stickerMessage": waE2E.StickerMessage,
}


def media_message(token: dict[str, Any]) -> Any:
    """The media `Message` a `media_token` describes, ready for `download_any`.

    Raises ValueError when the token does not come from `media_token`.
    """
    try:
        sub = _MEDIA_CLASSES[token["field"]](
            URL=str(token["url"]),
            directPath=str(token["directPath"]),
            mimetype=str(token["mimetype"]),
            fileLength=int(token["fileLength"]),
            mediaKey=base64.b64decode(token["mediaKey"], validate=True),
            fileSHA256=base64.b64decode(token["fileSha256"], validate=True),
            fileEncSHA256=base64.b64decode(token["fileEncSha256"], validate=True),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"not a neonize media reference: {err}") from err
    message = waE2E.Message()
    getattr(message, token["field"]).CopyFrom(sub)
    return message
