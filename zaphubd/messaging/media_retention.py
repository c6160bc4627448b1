"""Stored inbound media outlives no session: what a deleted session kept is removed.

A session's media lives under `inbound/<session id>/`. Deleting a session is finished by the
session-close worker (after its logout), on whichever node; rather than hook every path that
deletes a row, this pass runs at start and every hour, and removes the folders of sessions
that no longer exist. Nothing else expires: the media of a live session stays as long as it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from zaphubd.db.database import Database
from zaphubd.media_store.base import INBOUND, MediaStore, session_prefix

log = logging.getLogger("zaphubd.messaging")

INTERVAL_S = 3600.0
FOLDER_BATCH = 1000
OBJECT_BATCH = 1000


class MediaRetention:
    def __init__(self, store: MediaStore, db: Database) -> None:
        self._store = store
        self._db = db

    async def sweep(self) -> int:
        """Remove the media of deleted sessions; how many objects went."""
        names = await self._store.folders(INBOUND, FOLDER_BATCH)
        ids = [uuid.UUID(n) for n in names if _is_uuid(n)]
        if not ids:
            return 0
        rows = await self._db.fetch("SELECT id FROM sessions WHERE id = ANY($1::uuid[])", ids)
        alive = {r["id"] for r in rows}
        removed = 0
        for session_id in ids:
            if session_id not in alive:
                removed += await self._remove(session_id)
        return removed

    async def _remove(self, session_id: uuid.UUID) -> int:
        removed = 0
        while found := await self._store.scan(session_prefix(session_id), OBJECT_BATCH):
            await self._store.delete([o.key for o in found])
            removed += len(found)
        log.info("removed %d stored media object(s) of deleted session %s", removed, session_id)
        return removed

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as err:  # the next pass tries again
                log.warning("stored media retention pass failed: %s", err)
            await asyncio.sleep(INTERVAL_S)


def _is_uuid(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False
