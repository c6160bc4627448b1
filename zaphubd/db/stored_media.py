"""What the media store holds for messages: the `_stored` record of inbound media kept for
`config.storeMedia`, and the staged uploads that pending sends still hold.

Written into the message row's JSON (content `_stored`, metadata `mediaStoreError`) so a
message and the record of its media are one row: deleting the message forgets both.
"""

from __future__ import annotations

import uuid
from typing import Any

from zaphubd.db.database import Database

#: The statuses of an outbound row that its lane may still send.
_PENDING = "('queued', 'processing', 'failed')"


class StoredMediaRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_stored(self, row_id: uuid.UUID, stored: dict[str, Any]) -> None:
        await self._db.execute(
            """UPDATE messages SET content = content || jsonb_build_object('_stored', $2::jsonb),
                   metadata = (metadata - 'mediaStoreError')
                       || jsonb_build_object('mediaStored', $3::jsonb),
                   updated_at = now()
               WHERE id = $1""",
            row_id,
            stored,
            {k: stored[k] for k in ("size", "sha256", "mimeType")},
        )

    async def record_failure(self, row_id: uuid.UUID, reason: str) -> None:
        await self._db.execute(
            """UPDATE messages
               SET metadata = metadata || jsonb_build_object('mediaStoreError', $2::text),
                   updated_at = now()
               WHERE id = $1""",
            row_id,
            reason[:500],
        )

    async def staged_in_use(self, keys: list[str]) -> set[str]:
        """Those of `keys` that a send which may still go out refers to."""
        rows = await self._db.fetch(
            f"""SELECT content->'_upload'->>'key' AS key FROM messages
                WHERE content ? '_upload' AND content->'_upload'->>'key' = ANY($1::text[])
                  AND direction = 'outbound' AND status IN {_PENDING}""",
            keys,
        )
        return {r["key"] for r in rows}
