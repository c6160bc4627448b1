"""What the API may do on a session's live connection: presence, subscriptions, pairing
codes, media; and the way feature modules (contacts, groups, chats...) add their own calls.

The API never holds a transport client. It asks here, and gets API errors back: a session that
is not connected is `SessionNotReady` (409), media the network no longer has is `NotFound`
(404). Transport errors are mapped in this one place, so a transport can change without
touching `http/`. A session that runs on another node is asked there (`cluster/owner_calls.py`):
the same call runs on the owner, and its result or API error comes back.

A feature module registers each of its calls with `serve(op, local)` and runs them with
`run(session_id, op, args)`; arguments and results cross nodes as JSON. Inside a local call,
`connected(session_id, why)` gives the client and `transport_errors(what)` maps what the
transport raises onto API errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from zaphubd.cluster.owner_calls import OwnerCalls, decode_bytes, encode_bytes
from zaphubd.errors import CapacityReached, Forbidden, NotFound, SessionNotReady, UpstreamError
from zaphubd.sessions.lease import LeaseKeeper
from zaphubd.sessions.manager import SessionManager
from zaphubd.transport.base import (
    Client,
    MediaUnavailable,
    NotConnected,
    NotPermitted,
    RateLimited,
    TargetNotFound,
    TransportError,
)
from zaphubd.transport.events import MediaRef
from zaphubd.transport.outbound import PresenceType

Local = Callable[[uuid.UUID, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class MediaFile:
    """Downloaded inbound media, with what a response needs to serve it."""

    data: bytes
    mime_type: str
    file_name: str | None


class SessionActions:
    def __init__(
        self,
        manager: SessionManager,
        media_max_bytes: int,
        leases: LeaseKeeper | None = None,
        calls: OwnerCalls | None = None,
    ) -> None:
        self._manager = manager
        self._media_max_bytes = media_max_bytes
        self._leases = leases
        self._calls = calls
        self._local: dict[str, Local] = {}
        self.serve("presence", self._presence)
        self.serve("subscribe", self._subscribe)
        self.serve("pair", self._pair)
        self.serve("media", self._media)

    def serve(self, op: str, local: Local) -> None:
        """Register `op`: `local` runs it on the node that runs the session."""
        if op in self._local:
            raise ValueError(f"session action {op!r} is registered twice")
        self._local[op] = local
        if self._calls is not None:
            self._calls.serve(op, local)

    async def run(self, session_id: uuid.UUID, op: str, args: dict[str, Any]) -> Any:
        """Run a registered `op` where the session runs; its API errors come back as such."""
        return await self._on_owner(session_id, op, args)

    def connected(self, session_id: uuid.UUID, why: str) -> Client:
        """The session's client on this node; SessionNotReady (409) when it is not connected."""
        return self._client(session_id, why)

    async def send_presence(
        self, session_id: uuid.UUID, presence: PresenceType, chat: str | None
    ) -> None:
        await self._on_owner(session_id, "presence", {"presence": presence, "chat": chat})

    async def subscribe_presence(self, session_id: uuid.UUID, jid: str) -> None:
        await self._on_owner(session_id, "subscribe", {"jid": jid})

    async def pair(self, session_id: uuid.UUID, phone: str) -> str:
        """A pairing code, while the session shows QR codes."""
        return str(await self._on_owner(session_id, "pair", {"phone": phone}))

    async def download_media(
        self, session_id: uuid.UUID, token: dict[str, Any], max_bytes: int | None = None
    ) -> MediaFile:
        """Fetch inbound media from the network by the reference stored with its message,
        at most `max_bytes` (default ZAPHUB_MEDIA_MAX_BYTES)."""
        args = {"token": token, "max_bytes": max_bytes}
        got = await self._on_owner(session_id, "media", args)
        return MediaFile(decode_bytes(got["data"]), got["mime_type"], got["file_name"])

    async def _on_owner(self, session_id: uuid.UUID, op: str, args: dict[str, Any]) -> Any:
        if self._manager.get(session_id) is None and self._leases and self._calls:
            owner = (await self._leases.holders([session_id]))[session_id]
            if owner is not None and owner != self._leases.node_id:
                return await self._calls.call(owner, op, session_id, args)
        return await self._local[op](session_id, args)

    # -- on the node that runs the session --------------------------------------------

    async def _presence(self, session_id: uuid.UUID, args: dict[str, Any]) -> None:
        client = self._client(session_id, "presence needs a connected session")
        try:
            await client.send_presence(args["presence"], args.get("chat"))
        except TransportError as err:
            raise SessionNotReady(f"presence not sent: {err}") from err

    async def _subscribe(self, session_id: uuid.UUID, args: dict[str, Any]) -> None:
        client = self._client(session_id, "subscribing needs a connected session")
        try:
            await client.subscribe_presence(args["jid"])
        except TransportError as err:
            raise SessionNotReady(f"not subscribed: {err}") from err

    async def _pair(self, session_id: uuid.UUID, args: dict[str, Any]) -> str:
        return await self._manager.pair(session_id, args["phone"])

    async def _media(self, session_id: uuid.UUID, args: dict[str, Any]) -> dict[str, Any]:
        not_ready = "the session must be connected to download media"
        client = self._client(session_id, not_ready)
        ref = MediaRef(**args["token"])
        try:
            data = await client.download_media(ref, args.get("max_bytes") or self._media_max_bytes)
        except MediaUnavailable as err:
            raise NotFound(f"media unavailable: {err}") from err
        except NotConnected as err:
            raise SessionNotReady(not_ready) from err
        return {
            "data": encode_bytes(data),
            "mime_type": ref.mime_type or "application/octet-stream",
            "file_name": ref.file_name,
        }

    def _client(self, session_id: uuid.UUID, why: str) -> Client:
        """See `connected`."""
        client = self._manager.connected_client(session_id)
        if client is None:
            raise SessionNotReady(f"the session is not connected: {why}")
        return client


@contextmanager
def transport_errors(what: str) -> Iterator[None]:
    """Map a transport error raised inside onto the API error a client should see."""
    try:
        yield
    except NotConnected as err:
        raise SessionNotReady(f"{what}: the session is not connected") from err
    except TargetNotFound as err:
        raise NotFound(f"{what}: {err}") from err
    except NotPermitted as err:
        raise Forbidden(f"{what}: {err}") from err
    except RateLimited as err:
        raise CapacityReached(f"{what}: WhatsApp asks to slow down, try again later") from err
    except TransportError as err:
        raise UpstreamError(f"{what}: {err}") from err
