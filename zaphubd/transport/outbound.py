"""What a Client can send: one frozen dataclass per content kind of API.md.

Media arrives here as bytes the send worker downloaded itself (under our own size limits
and SSRF guards), never as a URL for the transport to fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MediaKind = Literal["image", "video", "audio", "document", "sticker"]
PresenceType = Literal["composing", "recording", "paused", "available", "unavailable"]


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Media:
    kind: MediaKind
    data: bytes
    mime_type: str
    caption: str | None = None
    file_name: str | None = None
    ptt: bool = False
    gif_playback: bool = False

    def __repr__(self) -> str:  # the bytes would flood logs and tracebacks
        return f"Media(kind={self.kind!r}, mime_type={self.mime_type!r}, size={len(self.data)})"


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    display_name: str
    vcard: str


@dataclass(frozen=True, slots=True)
class Reaction:
    """React to `message_id` in the chat `to`; an empty emoji removes the reaction."""

    message_id: str
    emoji: str
    from_me: bool = False
    participant: str | None = None


@dataclass(frozen=True, slots=True)
class Poll:
    name: str
    options: tuple[str, ...]
    selectable_count: int = 1


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text of our message `message_id` in the chat `to` (WhatsApp: ours only,
    text only, within 15 minutes of sending)."""

    message_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Revoke:
    """Delete `message_id` for everyone in the chat `to`. `from_me`: the message is ours;
    otherwise it is a group member's (`participant`), which only a group admin may revoke."""

    message_id: str
    from_me: bool = True
    participant: str | None = None


Content = Text | Media | Location | Contact | Reaction | Poll | Edit | Revoke


@dataclass(frozen=True, slots=True)
class Quoted:
    """The message a reply quotes: its WhatsApp id, and what we know of it."""

    message_id: str
    sender: str | None = None
    text: str | None = None
    #: We sent it: its author is the account itself.
    from_me: bool = False


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    to: str
    content: Content
    quoted: Quoted | None = None
    mentions: tuple[str, ...] = ()
    status_jid_list: tuple[str, ...] = ()
    #: A forward: the recipient's app shows "Forwarded" (WhatsApp's contextInfo.isForwarded).
    forwarded: bool = False
