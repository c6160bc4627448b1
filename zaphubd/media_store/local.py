"""Media on local disk under ZAPHUB_MEDIA_DIR (one node: other nodes do not see these files).

Files are written to a temporary name and renamed, so a reader never sees half a file; the
blocking file calls run in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from pathlib import Path

from zaphubd.media_store.base import StoredObject, StoreError, check_key


class LocalStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    async def start(self) -> None:
        # The directory is made by the first write: a daemon that never keeps media
        # (storeMedia off, no multipart sends) leaves nothing on disk.
        return None

    async def close(self) -> None:
        return None

    def _path(self, key: str) -> Path:
        return self._root / check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._write, self._path(key), data)
        except OSError as err:
            raise StoreError(f"media not written: {err}") from err

    def _write(self, path: Path, data: bytes) -> None:
        # mkdir's mode applies only to the last directory it makes: the root first, 0700.
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder in reversed(path.relative_to(self._root).parents[:-1]):
            (self._root / folder).mkdir(mode=0o700, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    async def get(self, key: str) -> bytes | None:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise StoreError(f"media not read: {err}") from err

    async def delete(self, keys: list[str]) -> None:
        paths = [self._path(key) for key in keys]
        try:
            await asyncio.to_thread(_unlink_all, paths)
        except OSError as err:
            raise StoreError(f"media not deleted: {err}") from err

    async def scan(self, prefix: str, limit: int) -> list[StoredObject]:
        return await asyncio.to_thread(self._list, prefix, limit)

    async def folders(self, prefix: str, limit: int) -> list[str]:
        return await asyncio.to_thread(self._folders, prefix, limit)

    def _folders(self, prefix: str, limit: int) -> list[str]:
        base = self._root / prefix
        if not base.is_dir():
            return []
        return [p.name for p in itertools.islice(base.iterdir(), limit) if p.is_dir()]

    def _list(self, prefix: str, limit: int) -> list[StoredObject]:
        base = self._root / prefix
        if not base.is_dir():
            return []
        now = time.time()
        found: list[StoredObject] = []
        for path in base.rglob("*"):
            if len(found) >= limit:
                break
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self._root).as_posix()
                found.append(StoredObject(key, now - path.stat().st_mtime))
        return found


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
