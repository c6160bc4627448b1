"""Keeping inbound media (`config.storeMedia`): a bounded queue of downloads apart from the
inbound worker, so a 50 MB file never holds up the order of a session's other messages.

The message is stored and announced first (its `mediaUrl` works at once: until the copy is
kept, the media route downloads it live). Then a `media-store` job downloads the media
through the session, under ZAPHUB_INBOUND_MEDIA_MAX_BYTES, checks its type as for outbound
media, and writes it to the media store; the row records the key, size, sha256 and MIME
type. A failure is recorded in the row's metadata (`mediaStoreError`); the message stays.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any, cast

from zaphubd.db.messages import MessageRepo
from zaphubd.db.sessions import SessionRepo
from zaphubd.db.stored_media import StoredMediaRepo
from zaphubd.errors import NotFound, SessionNotReady
from zaphubd.media import MediaError, check_kind
from zaphubd.media_store.base import MediaStore, StoreError, inbound_key
from zaphubd.queue import keys
from zaphubd.queue.consumer import QueueSpec
from zaphubd.queue.job import Job, Reject, Retry
from zaphubd.queue.producer import Publisher
from zaphubd.sessions.actions import SessionActions
from zaphubd.sessions.config import SessionConfig
from zaphubd.transport.outbound import MediaKind

log = logging.getLogger("zaphubd.messaging")

MEDIA_KINDS = frozenset({"image", "video", "audio", "document", "sticker"})
#: A session that is reconnecting gets this long between tries (and 8 tries in all).
NOT_READY_RETRY_S = 15.0


def media_store_spec(concurrency: int) -> QueueSpec:
    return QueueSpec(
        keys.MEDIA_STORE,
        concurrency=concurrency,
        max_attempts=8,
        backoff_base_s=5.0,
        timeout_s=300.0,
    )


class MediaKeeper:
    def __init__(
        self,
        store: MediaStore,
        messages: MessageRepo,
        stored: StoredMediaRepo,
        sessions: SessionRepo,
        actions: SessionActions,
        publisher: Publisher,
        max_bytes: int,
    ) -> None:
        self._store = store
        self._messages = messages
        self._sessions = sessions
        self._actions = actions
        self._publisher = publisher
        self._max_bytes = max_bytes
        self._repo = stored

    async def offer(self, session_id: uuid.UUID, message_id: str) -> None:
        """An inbound message with media was handled: queue its copy if the session keeps
        media and nothing was recorded for it yet (a redelivered job asks again)."""
        session = await self._sessions.get(session_id)
        if session is None or not SessionConfig.from_json(session.config).store_media:
            return
        row = await self._messages.by_client_id(session_id, message_id)
        if row is None or "_stored" in row.content or "mediaStoreError" in row.metadata:
            return
        data = {"session_id": str(session_id), "row_id": str(row.id)}
        await self._publisher.publish(keys.MEDIA_STORE, data, job_id=f"media:{row.id}")

    async def handle(self, job: Job) -> None:
        try:
            session_id, row_id = uuid.UUID(job.data["session_id"]), uuid.UUID(job.data["row_id"])
        except (KeyError, ValueError, TypeError) as err:
            raise Reject(f"malformed media-store job: {err}") from err
        row = await self._messages.get(row_id)
        if (
            row is None
            or "_stored" in row.content
            or not isinstance(row.content.get("_media"), dict)
        ):
            return  # deleted, already kept, or nothing to keep
        try:
            stored = await self._keep(session_id, row.message_id, row.type, row.content)
        except SessionNotReady as err:
            raise Retry(str(err), defer_s=NOT_READY_RETRY_S) from err
        except StoreError as err:
            raise Retry(str(err)) from err
        except (NotFound, MediaError) as err:
            await self._failed(row_id, str(err))
            return
        await self._repo.record_stored(row_id, stored)

    async def dead(self, job: Job, reason: str) -> None:
        """Every try failed (the session stayed away, the store stayed down): say so."""
        row_id = job.data.get("row_id")
        if isinstance(row_id, str):
            await self._failed(uuid.UUID(row_id), f"media not stored: {reason}")

    async def _keep(
        self, session_id: uuid.UUID, message_id: str, kind: str, content: dict[str, Any]
    ) -> dict[str, Any]:
        token = content["_media"]
        size = token.get("size")
        if isinstance(size, int) and size > self._max_bytes:
            raise MediaError(self._too_large(size))
        media = await self._actions.download_media(session_id, token, self._max_bytes)
        if len(media.data) > self._max_bytes:
            raise MediaError(self._too_large(len(media.data)))
        mime = media.mime_type
        if kind in MEDIA_KINDS:
            mime = check_kind(cast(MediaKind, kind), media.data, mime, None)
        key = inbound_key(session_id, message_id)
        await self._store.put(key, media.data)
        return {
            "key": key,
            "size": len(media.data),
            "sha256": hashlib.sha256(media.data).hexdigest(),
            "mimeType": mime,
            "fileName": media.file_name,
        }

    def _too_large(self, size: int) -> str:
        return f"media of {size} bytes is over ZAPHUB_INBOUND_MEDIA_MAX_BYTES ({self._max_bytes})"

    async def _failed(self, row_id: uuid.UUID, reason: str) -> None:
        log.warning("inbound media of message %s not stored: %s", row_id, reason)
        await self._repo.record_failure(row_id, reason)
