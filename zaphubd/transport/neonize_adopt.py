"""Moves a session's whatsmeow store from its sqlite file into the shared Postgres schema.

A session paired by an older zaphubd (or under ZAPHUB_CREDENTIALS_STORE=local) has its
device in `ZAPHUB_AUTH_DATA_DIR/<id>/store.db`, which only its node can read. The first time
it starts with the shared store, its rows are copied into the `whatsmeow` schema in one
transaction, 500 at a time (a busy account's store runs to tens of MB), provided both stores
are at the same whatsmeow schema version: the installed library migrated both, so they are
unless the file predates it. A store that cannot be copied is kept and the session resumes
from it on this node, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from zaphubd.db.database import Database

log = logging.getLogger("zaphubd.transport.neonize")

CHUNK = 500
#: Tables other tables' foreign keys point at: copied first.
FIRST = ("whatsmeow_device", "whatsmeow_app_state_version")


@dataclass(frozen=True)
class LocalStore:
    path: Path
    version: int
    device: str
    tables: list[str]


def inspect(path: Path) -> LocalStore | None:
    """The file's schema version, device and tables; None if it holds no device."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            (version,) = db.execute("SELECT version FROM whatsmeow_version").fetchone()
            device = db.execute("SELECT jid FROM whatsmeow_device LIMIT 1").fetchone()
            names = db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'whatsmeow%'"
            ).fetchall()
    except (sqlite3.Error, TypeError) as err:  # no version table, unreadable, damaged
        log.warning("whatsmeow store %s cannot be moved to Postgres: %s", path, err)
        return None
    if device is None:
        return None
    tables = [n for (n,) in names if n != "whatsmeow_version"]
    tables.sort(key=lambda t: (t not in FIRST, FIRST.index(t) if t in FIRST else 0, t))
    return LocalStore(path, int(version), str(device[0]), tables)


def read_chunk(path: Path, table: str, after: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Up to CHUNK rows of `table` past rowid `after`, the rowid first in each row."""
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        cursor = db.execute(
            f'SELECT rowid, * FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT ?',  # noqa: S608
            (after, CHUNK),
        )
        columns = [d[0] for d in cursor.description][1:]
        return columns, cursor.fetchall()


async def copy_store(db: Database, store: LocalStore) -> bool:
    """Copy every row into the shared schema; False (nothing copied) when the versions
    differ or the shared schema lacks one of the file's tables."""
    try:
        shared_version = await db.fetchval("SELECT version FROM whatsmeow.whatsmeow_version")
    except asyncpg.UndefinedTableError:
        shared_version = None
    if shared_version != store.version:
        log.warning(
            "whatsmeow store %s is at version %s, the shared one at %s: not moved",
            store.path,
            store.version,
            shared_version,
        )
        return False
    types = await _column_types(db)
    if missing := [t for t in store.tables if t not in types]:
        log.warning("whatsmeow store %s has tables the shared one lacks: %s", store.path, missing)
        return False
    async with db.transaction() as conn:
        for table in store.tables:
            await _copy_table(conn, store.path, table, types[table])
    return True


async def _copy_table(
    conn: asyncpg.Connection, path: Path, table: str, types: dict[str, str]
) -> None:
    after = 0
    while True:
        columns, rows = await asyncio.to_thread(read_chunk, path, table, after)
        if not rows:
            return
        after = rows[-1][0]
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        statement = (
            f"INSERT INTO whatsmeow.{table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608
        )
        values = [
            tuple(_convert(v, types.get(c, "")) for c, v in zip(columns, row[1:], strict=True))
            for row in rows
        ]
        await conn.executemany(statement, values)


def _convert(value: Any, pg_type: str) -> Any:
    """sqlite's loose types to the shared schema's column types."""
    if value is None:
        return None
    if pg_type == "boolean":
        return bool(value)
    if pg_type == "uuid":
        return uuid.UUID(bytes=value) if isinstance(value, bytes) else uuid.UUID(str(value))
    if pg_type == "bytea" and isinstance(value, str):
        return value.encode()
    return value


async def _column_types(db: Database) -> dict[str, dict[str, str]]:
    rows = await db.fetch(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_schema = 'whatsmeow'"""
    )
    types: dict[str, dict[str, str]] = {}
    for r in rows:
        types.setdefault(str(r["table_name"]), {})[str(r["column_name"])] = str(r["data_type"])
    return types
