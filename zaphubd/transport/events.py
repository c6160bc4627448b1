"""Normalised, transport-independent events a Client reports through its callback.

Every transport (neonize in production, simnet in tests) turns its own wire events into
these frozen dataclasses; nothing outside `transport/` sees a wire format. JIDs are strings
(`<digits>@s.whatsapp.net`, `<id>@g.us`, `<id>@lid`); timestamps are aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from zaphubd.transport.chats import ChatSettingsChanged

DisconnectReason = Literal[
    "network",  # the socket dropped or could not be opened; worth retrying
    "keepalive",  # the server stopped answering pings
    "qr_timeout",  # nobody scanned any of the QR codes; the login attempt ended
    "replaced",  # another client opened this account (do not fight over it)
    "banned",  # the account is temporarily banned
    "connect_failure",  # the server refused the login for another reason
    "closed",  # we closed it ourselves (disconnect/stop)
    "proxy",  # the session's proxy is unreachable or refused (retrying would not help)
]
ReceiptType = Literal["delivered", "read", "played"]
ChatPresenceState = Literal["composing", "recording", "paused"]
CallAction = Literal["offer", "ringing", "accept", "reject", "terminate", "timeout"]
GroupAction = Literal["add", "remove", "promote", "demote", "subject", "update", "joined"]
InboundType = Literal[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contact",
    "poll",
    "reaction",
    "edit",
    "revoke",
    "unknown",
]


@dataclass(frozen=True, slots=True)
class Qr:
    """A new QR code to show; `expires_in_s` is how long this code stays valid."""

    code: str
    expires_in_s: float


@dataclass(frozen=True, slots=True)
class Connected:
    """The account is logged in and the socket is open (after pairing or a resume)."""

    jid: str
    phone: str
    push_name: str | None = None


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection ended. The client never reconnects by itself: the supervisor decides."""

    reason: DisconnectReason
    detail: str = ""
    #: When WhatsApp said how long not to come back (a temporary ban's expiry), in seconds.
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class LoggedOut:
    """The device was removed (from the phone, or by logout); its credentials are gone."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """The server stopped (ok=False) or resumed (ok=True) answering keep-alive pings."""

    ok: bool


@dataclass(frozen=True, slots=True)
class MediaRef:
    """What a client needs to fetch inbound media later; `token` is JSON-serialisable."""

    kind: str
    mime_type: str
    size: int | None
    token: dict[str, Any]
    file_name: str | None = None


UnreadableReason = Literal["undecryptable", "unsupported"]


@dataclass(frozen=True, slots=True)
class MessageUnreadable:
    """A message arrived that cannot become a `MessageIn`: it is recorded, never dropped.

    `undecryptable`: the transport could not decrypt it and asked the sender to send it
    again (WhatsApp's retry receipt), so a `MessageIn` with the same id may follow;
    `unsupported`: it was decrypted but could not be read.
    """

    id: str
    chat: str
    sender: str
    reason: UnreadableReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MessageIn:
    """A message seen on the account: from a contact, or sent from the phone (`from_me`).

    `content` follows API.md per `type`: {text}, {caption, mimeType, size} for media,
    {latitude, longitude, name?, address?}, {displayName, vcard}, {name, options},
    {messageId, emoji} for a reaction, {messageId, text} for an edit, {messageId,
    participant?} for a revoke (`participant`: the author, when a group admin revoked
    another member's message).
    """

    id: str
    chat: str
    sender: str
    type: InboundType
    content: dict[str, Any]
    timestamp: datetime
    from_me: bool = False
    is_group: bool = False
    sender_alt: str | None = None  # the phone JID when `sender` is a @lid, or the reverse
    push_name: str | None = None
    quoted_id: str | None = None
    mentions: tuple[str, ...] = ()
    media: MediaRef | None = None
    #: From a history sync (what the account had before this device was linked): stored,
    #: not announced as news.
    history: bool = False
    #: Forwarded from another chat (WhatsApp shows "Forwarded").
    forwarded: bool = False


@dataclass(frozen=True, slots=True)
class HistorySync:
    """Past messages WhatsApp hands a newly linked device (one chunk of them), and the
    LID -> phone mappings it knows."""

    messages: tuple[MessageIn, ...]
    conversations: int
    lid_mappings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Receipt:
    """The recipient's device got (`delivered`) or opened (`read`) messages we sent."""

    message_ids: tuple[str, ...]
    chat: str
    sender: str
    type: ReceiptType
    timestamp: datetime
    participant: str | None = None


@dataclass(frozen=True, slots=True)
class Presence:
    """A contact we subscribed to came online or went away."""

    jid: str
    available: bool
    last_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChatPresence:
    """A contact is typing, recording audio, or stopped, in a chat."""

    chat: str
    sender: str
    state: ChatPresenceState


@dataclass(frozen=True, slots=True)
class Call:
    """A voice or video call event; one call id moves through several actions."""

    call_id: str
    caller: str
    action: CallAction
    timestamp: datetime
    is_video: bool = False
    is_group: bool = False
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class GroupChange:
    """Membership or settings of a group changed, or we joined one."""

    group: str
    action: GroupAction
    participants: tuple[str, ...] = ()
    by: str | None = None
    subject: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


TransportEvent = (
    Qr
    | Connected
    | Disconnected
    | LoggedOut
    | KeepAlive
    | MessageIn
    | MessageUnreadable
    | HistorySync
    | Receipt
    | Presence
    | ChatPresence
    | Call
    | GroupChange
    | ChatSettingsChanged
)
