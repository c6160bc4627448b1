"""What the API may do on a session's live connection: presence, subscriptions, media.

The API never holds a transport client. It asks here, and gets API errors back: a session that
is not connected here is `SessionNotReady` (409), media the network no longer has is
`NotFound` (404). Transport errors are mapped in this one place, so a transport can change
without touching `http/`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from zaphubd.errors import NotFound, SessionNotReady
from zaphubd.sessions.manager import SessionManager
from zaphubd.transport.base import Client, MediaUnavailable, NotConnected, TransportError
from zaphubd.transport.events import MediaRef
from zaphubd.transport.outbound import PresenceType


@dataclass(frozen=True, slots=True)
class MediaFile:
    """Downloaded inbound media, with what a response needs to serve it."""

    data: bytes
    mime_type: str
    file_name: str | None


class SessionActions:
    def __init__(self, manager: SessionManager, media_max_bytes: int) -> None:
        self._manager = manager
        self._media_max_bytes = media_max_bytes

    async def send_presence(
        self, session_id: uuid.UUID, presence: PresenceType, chat: str | None
    ) -> None:
        client = self._client(session_id, "presence needs a connected session")
        try:
            await client.send_presence(presence, chat)
        except TransportError as err:
            raise SessionNotReady(f"presence not sent: {err}") from err

    async def subscribe_presence(self, session_id: uuid.UUID, jid: str) -> None:
        client = self._client(session_id, "subscribing needs a connected session")
        try:
            await client.subscribe_presence(jid)
        except TransportError as err:
            raise SessionNotReady(f"not subscribed: {err}") from err

    async def download_media(self, session_id: uuid.UUID, token: dict[str, Any]) -> MediaFile:
        """Fetch inbound media from the network by the reference stored with its message."""
        not_ready = "the session must be connected to download media"
        client = self._client(session_id, not_ready)
        ref = MediaRef(**token)
        try:
            data = await client.download_media(ref, self._media_max_bytes)
        except MediaUnavailable as err:
            raise NotFound(f"media unavailable: {err}") from err
        except NotConnected as err:
            raise SessionNotReady(not_ready) from err
        return MediaFile(data, ref.mime_type or "application/octet-stream", ref.file_name)

    def _client(self, session_id: uuid.UUID, why: str) -> Client:
        client = self._manager.connected_client(session_id)
        if client is None:
            raise SessionNotReady(f"the session is not connected: {why}")
        return client
