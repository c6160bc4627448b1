"""Files uploaded with multipart sends, between the API's 201 and the send worker.

The bytes are not put in the message row (the send queue): they wait in the media store
under a staged key (`staged/<uuid>`) that the row's content names (`_upload`). The file is
written before the row, so an accepted send always finds its file; the send worker removes
it once the message is sent or given up (dlq). What a crash leaves behind (a file whose row
was never written, or whose removal did not happen) is swept: every staged file older than
ZAPHUB_UPLOAD_STALE_S that no send which may still go out names is deleted.
"""

from __future__ import annotations

import asyncio
import logging

from zaphubd.db.stored_media import StoredMediaRepo
from zaphubd.media_store.base import STAGED, MediaStore, StoreError, staged_key

log = logging.getLogger("zaphubd.messaging")

#: Staged files looked at per sweep pass (a pass repeats while it finds full batches).
SWEEP_BATCH = 500


class Uploads:
    def __init__(self, store: MediaStore, repo: StoredMediaRepo, stale_s: float) -> None:
        self._store = store
        self._repo = repo
        self._stale_s = stale_s

    async def stage(self, data: bytes) -> str:
        """Keep an uploaded file for its send; its key."""
        key = staged_key()
        await self._store.put(key, data)
        return key

    async def load(self, key: str) -> bytes | None:
        return await self._store.get(key)

    async def release(self, key: str) -> None:
        """The send is over: the file goes (a failure is left to the sweeper)."""
        try:
            await self._store.delete([key])
        except StoreError as err:
            log.warning("staged upload not removed (the sweeper will): %s", err)

    async def sweep(self) -> int:
        """Remove stale staged files that no pending send holds; how many went."""
        removed = 0
        while True:
            found = await self._store.scan(STAGED, SWEEP_BATCH)
            stale = [o.key for o in found if o.age_s > self._stale_s]
            held = await self._repo.staged_in_use(stale) if stale else set()
            gone = [key for key in stale if key not in held]
            if gone:
                await self._store.delete(gone)
                removed += len(gone)
            if len(found) < SWEEP_BATCH or not gone:
                return removed

    async def run(self) -> None:
        """Sweep at a quarter of the staleness age, forever."""
        while True:
            await asyncio.sleep(self._stale_s / 4)
            try:
                removed = await self.sweep()
            except Exception as err:  # the next pass tries again
                log.warning("staged upload sweep failed: %s", err)
            else:
                if removed:
                    log.info("removed %d stale staged upload(s)", removed)
