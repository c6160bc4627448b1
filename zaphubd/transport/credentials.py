"""Where a transport keeps a session's credentials (the keys that resume it without a QR).

Two stores: files under ZAPHUB_AUTH_DATA_DIR (one directory per session, derived from its
UUID only), which only the node that wrote them can read, and Postgres
(`zaphubd.db.credentials`), which every node of a cluster shares. The simnet transport keeps
its credentials, a small JSON object, in either; neonize keeps its whatsmeow store in a
Postgres schema or a sqlite file (`neonize.py`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any, Protocol

import orjson

from zaphubd.simnet.files import write_atomic
from zaphubd.transport.base import remove_auth_dir, session_auth_dir

log = logging.getLogger("zaphubd.transport.credentials")

Credentials = dict[str, Any]


class CredentialStore(Protocol):
    async def load(self, session_id: uuid.UUID) -> Credentials | None: ...

    async def save(self, session_id: uuid.UUID, creds: Credentials) -> None: ...

    async def delete(self, session_id: uuid.UUID) -> None: ...


class FileCredentials:
    """One JSON file per session under `base` (0700 directories, 0600 files)."""

    def __init__(self, base: Path, file_name: str) -> None:
        self.base = base
        self._file_name = file_name

    def path(self, session_id: uuid.UUID) -> Path:
        return session_auth_dir(self.base, session_id) / self._file_name

    async def load(self, session_id: uuid.UUID) -> Credentials | None:
        return await asyncio.to_thread(self._read, session_id)

    async def save(self, session_id: uuid.UUID, creds: Credentials) -> None:
        await asyncio.to_thread(self._write, session_id, creds)

    async def delete(self, session_id: uuid.UUID) -> None:
        await asyncio.to_thread(remove_auth_dir, self.base, session_id)

    def _read(self, session_id: uuid.UUID) -> Credentials | None:
        try:
            creds = orjson.loads(self.path(session_id).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as err:
            log.warning("session %s: unreadable credentials: %s", session_id, err)
            return None
        return creds if isinstance(creds, dict) else None

    def _write(self, session_id: uuid.UUID, creds: Credentials) -> None:
        path = self.path(session_id)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, orjson.dumps(creds), mode=0o600)
