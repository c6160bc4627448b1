"""The client's half of the wire format: outbound messages to frames, frames to events.

Only the simnet transport uses this; what it produces are the transport-independent types of
`zaphubd.transport.outbound` and `zaphubd.transport.events`.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast, get_args

from zaphubd.simnet.protocol import Frame
from zaphubd.transport.events import (
    Call,
    CallAction,
    ChatPresence,
    ChatPresenceState,
    GroupAction,
    GroupChange,
    HistorySync,
    InboundType,
    MediaRef,
    MessageIn,
    MessageUnreadable,
    Presence,
    Receipt,
    ReceiptType,
    TransportEvent,
)
from zaphubd.transport.outbound import (
    Contact,
    Content,
    Edit,
    Location,
    Media,
    OutboundMessage,
    Poll,
    Reaction,
    Revoke,
    Text,
)

_INBOUND_TYPES = frozenset(get_args(InboundType))


def from_ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def encode_send(message: OutboundMessage, message_id: str) -> Frame:
    frame: Frame = {
        "op": "send",
        "id": message_id,
        "to": message.to,
        "msg": encode_content(message.content),
    }
    if message.quoted is not None:
        quoted = message.quoted
        frame["quoted"] = {
            "messageId": quoted.message_id,
            "sender": quoted.sender,
            "text": quoted.text,
        }
    if message.mentions:
        frame["mentions"] = list(message.mentions)
    if message.status_jid_list:
        frame["status_jids"] = list(message.status_jid_list)
    if message.forwarded:
        frame["forwarded"] = True
    return frame


def encode_content(content: Content) -> dict[str, Any]:
    """One content dataclass in the API.md send shape (`{type, <type>: {...}}`)."""
    body: dict[str, Any]
    match content:
        case Text(text=text):
            return {"type": "text", "text": text}
        case Media():
            return {"type": content.kind, content.kind: _media_body(content)}
        case Location():
            body = {
                "latitude": content.latitude,
                "longitude": content.longitude,
                "name": content.name,
                "address": content.address,
            }
            return {"type": "location", "location": body}
        case Contact():
            body = {"displayName": content.display_name, "vcard": content.vcard}
            return {"type": "contact", "contact": body}
        case Reaction():
            body = {"messageId": content.message_id, "emoji": content.emoji}
            return {"type": "reaction", "reaction": body}
        case Poll():
            body = {
                "name": content.name,
                "options": list(content.options),
                "selectableCount": content.selectable_count,
            }
            return {"type": "poll", "poll": body}
        case Edit():
            return {"type": "edit", "edit": {"messageId": content.message_id, "text": content.text}}
        case Revoke():
            body = {"messageId": content.message_id}
            if content.participant and not content.from_me:
                body["participant"] = content.participant
            return {"type": "revoke", "revoke": body}
    raise TypeError(f"cannot send {type(content).__name__}")


def _media_body(media: Media) -> dict[str, Any]:
    body: dict[str, Any] = {
        "data": base64.b64encode(media.data).decode("ascii"),
        "mimeType": media.mime_type,
        "caption": media.caption,
    }
    if media.kind == "document":
        body["fileName"] = media.file_name
    if media.kind == "audio":
        body["ptt"] = media.ptt
    if media.kind == "video":
        body["gifPlayback"] = media.gif_playback
    return body


def decode_event(frame: Frame) -> TransportEvent | None:
    """The event a server frame carries; None for a kind this client does not know."""
    op = frame["op"]
    if op == "ev":
        decoder = _QUEUED.get(frame.get("kind", ""))
        return decoder(frame) if decoder is not None else None
    if op == "presence":
        last_seen = frame.get("last_seen")
        return Presence(
            jid=frame["jid"],
            available=bool(frame["available"]),
            last_seen=from_ms(last_seen) if last_seen is not None else None,
        )
    if op == "chat_presence":
        state = cast(ChatPresenceState, frame["state"])
        return ChatPresence(chat=frame["chat"], sender=frame["sender"], state=state)
    if op == "call":
        return Call(
            call_id=frame["call_id"],
            caller=frame["caller"],
            action=cast(CallAction, frame["action"]),
            timestamp=from_ms(frame["ts"]),
            is_video=bool(frame.get("is_video")),
            is_group=bool(frame.get("is_group")),
        )
    return None


def _message(frame: Frame) -> MessageIn:
    kind = frame["type"] if frame["type"] in _INBOUND_TYPES else "unknown"
    quoted = frame.get("quoted") or {}
    media = frame.get("media")
    return MessageIn(
        id=frame["id"],
        chat=frame["chat"],
        sender=frame["sender"],
        type=cast(InboundType, kind),
        content=frame["content"],
        timestamp=from_ms(frame["ts"]),
        from_me=bool(frame.get("from_me")),
        is_group=bool(frame.get("is_group")),
        push_name=frame.get("push_name"),
        sender_alt=frame.get("sender_alt"),
        quoted_id=quoted.get("messageId"),
        mentions=tuple(frame.get("mentions") or ()),
        media=_media_ref(media) if media else None,
        forwarded=bool(frame.get("forwarded")),
    )


def _media_ref(media: dict[str, Any]) -> MediaRef:
    return MediaRef(
        kind=media["kind"],
        mime_type=media["mimeType"],
        size=media.get("size"),
        token={"media_id": media["id"]},
        file_name=media.get("fileName"),
    )


def _receipt(frame: Frame) -> Receipt:
    return Receipt(
        message_ids=tuple(frame["ids"]),
        chat=frame["chat"],
        sender=frame["sender"],
        type=cast(ReceiptType, frame["type"]),
        timestamp=from_ms(frame["ts"]),
        participant=frame.get("participant"),
    )


def _group(frame: Frame) -> GroupChange:
    return GroupChange(
        group=frame["group"],
        action=cast(GroupAction, frame["action"]),
        participants=tuple(frame.get("participants") or ()),
        by=frame.get("by"),
        subject=frame.get("subject"),
        details=dict(frame.get("details") or {}),
    )


def _undecryptable(frame: Frame) -> MessageUnreadable:
    return MessageUnreadable(
        id=frame["id"],
        chat=frame["chat"],
        sender=frame["sender"],
        reason="undecryptable",
        detail="could not be decrypted; the sender was asked to send it again",
    )


def _history(frame: Frame) -> HistorySync:
    messages = tuple(
        dataclasses.replace(_message(m), history=True) for m in frame.get("messages") or ()
    )
    return HistorySync(messages=messages, conversations=int(frame.get("conversations", 0)))


_QUEUED: dict[str, Callable[[Frame], TransportEvent]] = {
    "message": _message,
    "history": _history,
    "undecryptable": _undecryptable,
    "receipt": _receipt,
    "group": _group,
}
