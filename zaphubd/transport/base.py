"""The Transport interface: how the session engine talks to a WhatsApp network.

A `Transport` (one per daemon) makes `Client`s, one per session. A client reports everything
through one async callback of normalised events (`transport.events`) and never reconnects by
itself: after `Disconnected` the session supervisor decides whether and when to call
`connect()` again on the same client. Two implementations: neonize (production) and simnet
(tests, demo, benchmarks). Nothing outside `transport/` imports either wire format.

Lifecycle of a client:
- `connect()` opens the connection and returns once the attempt is under way (the socket is
  open and the login has started); what follows arrives as events: `Qr` codes while no
  credentials exist, `Connected`, then messages, until `Disconnected` or `LoggedOut`. It raises
  `ConnectFailed` when the network cannot be reached or refuses the connection.
- `disconnect()` closes the connection and keeps the credentials (daemon shutdown, stop).
- `logout()` unlinks the device from the account, closes, and deletes the credentials.
- Neither `disconnect()` nor `logout()` reports an event: the caller knows what it did.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from zaphubd.errors import ZaphubError
from zaphubd.transport.chats import Chats
from zaphubd.transport.contacts import Contacts
from zaphubd.transport.events import MediaRef, TransportEvent
from zaphubd.transport.groups import Groups
from zaphubd.transport.outbound import OutboundMessage, PresenceType

EventCallback = Callable[[TransportEvent], Awaitable[None]]


class TransportError(ZaphubError):
    """Base of the errors a transport raises."""


class ConnectFailed(TransportError):
    """The network could not be reached, or refused the connection."""


class ProxyFailed(ConnectFailed):
    """The session's proxy could not be reached or refused the connection (or the
    credentials): trying again will not help until the proxy or config.proxy is fixed."""


class NotConnected(TransportError):
    """The call needs an open, logged-in connection and there is none."""


class SendFailed(TransportError):
    """A send did not go out. `permanent` failures must not be retried (bad recipient...)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class PairingFailed(TransportError):
    """A pairing code could not be requested (wrong moment, bad phone number)."""


class TargetNotFound(TransportError):
    """What the call names does not exist on the network: a number not on WhatsApp, a group,
    a message, an invite link."""


class NotPermitted(TransportError):
    """The account may not do this: not a member of the group, not one of its admins..."""


class RateLimited(TransportError):
    """The network asks us to slow down; the same call may work later."""


class MediaUnavailable(TransportError):
    """Inbound media could not be downloaded (expired, too large, network)."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the network answered to a send: its message id and the server's timestamp."""

    message_id: str
    timestamp: datetime


class Client(Protocol):
    """One session's connection. See the module docstring for the lifecycle."""

    @property
    def session_id(self) -> uuid.UUID: ...

    @property
    def is_connected(self) -> bool:
        """True between `Connected` and the end of the connection."""
        ...

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def logout(self) -> bool:
        """Unlink the device, close, delete the credentials. True when the network confirmed
        the device is removed (or nothing was linked); False when it could not be told."""
        ...

    async def pair_phone(self, phone: str) -> str:
        """Ask for a pairing code for `phone` (digits); valid only while QR codes are shown."""
        ...

    async def send(self, message: OutboundMessage, message_id: str | None) -> SendResult:
        """Send one message. `message_id` is honoured when the transport accepts_message_id."""
        ...

    async def send_presence(self, presence: PresenceType, chat: str | None = None) -> None:
        """`available`/`unavailable` for the account; the others in `chat`."""
        ...

    async def subscribe_presence(self, jid: str) -> None: ...

    async def mark_read(self, chat: str, sender: str, message_ids: list[str]) -> None: ...

    async def reject_call(self, caller: str, call_id: str) -> None: ...

    async def download_media(self, ref: MediaRef, max_bytes: int) -> bytes: ...

    @property
    def groups(self) -> Groups:
        """The account's groups (`transport.groups`)."""
        ...

    @property
    def contacts(self) -> Contacts:
        """Number checks, contacts' profiles, the blocklist, the own profile."""
        ...

    @property
    def chats(self) -> Chats:
        """Archive, pin and mute chats (`transport/chats.py`)."""
        ...


class Transport(Protocol):
    """Makes clients and owns what they share (executor, HTTP session, credential store)."""

    name: str
    #: Whether `send` honours a caller-chosen message id (see "In-doubt sends", DESIGN.md).
    accepts_message_id: bool

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def new_message_id(self) -> str:
        """A fresh message id in the network's own format (used when accepts_message_id)."""
        ...

    def client(
        self, session_id: uuid.UUID, on_event: EventCallback, *, proxy: str | None = None
    ) -> Client:
        """The session's client; `proxy` (a checked proxy URL) carries its connection and
        its media downloads."""
        ...

    async def has_credentials(self, session_id: uuid.UUID) -> bool: ...

    async def remove_credentials(self, session_id: uuid.UUID) -> None: ...


def session_auth_dir(base: Path, session_id: uuid.UUID) -> Path:
    """The session's credential directory: derived from the UUID only, never from user text."""
    if not isinstance(session_id, uuid.UUID):
        raise TypeError("session_id must be a uuid.UUID")
    root = base.resolve()
    path = (root / str(session_id)).resolve()
    if path.parent != root:
        raise ValueError("session auth directory escapes the auth data directory")
    return path


def remove_auth_dir(base: Path, session_id: uuid.UUID) -> None:
    """Delete a session's credential directory (missing is fine)."""
    shutil.rmtree(session_auth_dir(base, session_id), ignore_errors=True)
