"""The media store contract, and the keys every store uses.

Keys are built here only, from UUIDs and hex digests: never from a file name, a message id or
anything else a user or a contact chose, so a key can never become a path outside the store.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Protocol

from zaphubd.errors import ZaphubError

STAGED = "staged/"
INBOUND = "inbound/"
_KEY = re.compile(r"^(staged/[0-9a-f-]{36}|inbound/[0-9a-f-]{36}/[0-9a-f]{64})$")


class StoreError(ZaphubError):
    """The store could not be read or written (disk, network, credentials)."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    age_s: float


class MediaStore(Protocol):
    """Bytes by key. Implementations raise StoreError for anything but a missing key."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        ...

    async def delete(self, keys: list[str]) -> None:
        """Remove these objects; a missing one is not an error."""
        ...

    async def scan(self, prefix: str, limit: int) -> list[StoredObject]:
        """Up to `limit` objects whose key starts with `prefix`."""
        ...

    async def folders(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` names one level below `prefix` (`inbound/<name>/...`)."""
        ...


def staged_key() -> str:
    """A new key for an uploaded file waiting for its send."""
    return f"{STAGED}{uuid.uuid4()}"


def inbound_key(session_id: uuid.UUID, message_id: str) -> str:
    """The key of a session's inbound message's media: the same message, the same key."""
    digest = hashlib.sha256(message_id.encode()).hexdigest()
    return f"{INBOUND}{session_id}/{digest}"


def session_prefix(session_id: uuid.UUID) -> str:
    return f"{INBOUND}{session_id}/"


def check_key(key: str) -> str:
    """`key` if it is one this module builds; ValueError otherwise (a corrupt row)."""
    if not _KEY.match(key):
        raise ValueError(f"not a media store key: {key!r}")
    return key
