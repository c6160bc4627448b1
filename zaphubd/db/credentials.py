"""Session credentials in Postgres, where every node of a cluster can read them.

A session first started by an older, single-node zaphubd has its credentials in a file under
ZAPHUB_AUTH_DATA_DIR: the first load finds them there, moves them into Postgres and removes
the file, so the upgrade needs no new QR and the session can then run on any node.
"""

from __future__ import annotations

import logging
import uuid

from zaphubd.db.database import Database
from zaphubd.transport.credentials import Credentials, FileCredentials

log = logging.getLogger("zaphubd.db.credentials")

# Written only while the session exists: a deletion that raced a pairing must not leave keys.
_SAVE = """
INSERT INTO session_credentials (session_id, data)
SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1)
ON CONFLICT (session_id) DO UPDATE SET data = EXCLUDED.data, updated_at = now()
"""


class PostgresCredentials:
    def __init__(self, db: Database, legacy: FileCredentials | None = None) -> None:
        self._db = db
        self._legacy = legacy

    async def load(self, session_id: uuid.UUID) -> Credentials | None:
        data = await self._db.fetchval(
            "SELECT data FROM session_credentials WHERE session_id = $1", session_id
        )
        if isinstance(data, dict):
            return data
        return await self._adopt_legacy(session_id)

    async def save(self, session_id: uuid.UUID, creds: Credentials) -> None:
        await self._db.execute(_SAVE, session_id, creds)

    async def delete(self, session_id: uuid.UUID) -> None:
        await self._db.execute("DELETE FROM session_credentials WHERE session_id = $1", session_id)
        if self._legacy is not None:
            await self._legacy.delete(session_id)

    async def _adopt_legacy(self, session_id: uuid.UUID) -> Credentials | None:
        if self._legacy is None:
            return None
        creds = await self._legacy.load(session_id)
        if creds is None:
            return None
        await self.save(session_id, creds)
        await self._legacy.delete(session_id)
        log.info("session %s: credentials moved from the local directory to Postgres", session_id)
        return creds
