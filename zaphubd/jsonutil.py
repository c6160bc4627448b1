"""JSON encoding shared by the API, the jsonb codec and the queues (orjson, encoded once)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    # asyncpg returns its own UUID subclass, which orjson only accepts as exactly uuid.UUID.
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    """UUIDs as strings, datetimes as ISO 8601 with `Z`, dataclasses as objects."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


loads = orjson.loads
