"""Apply the numbered SQL files of sql/ (shipped as zaphubd.migrations) in order.

Each file runs in its own transaction and is recorded with its checksum. An advisory lock
makes two daemons starting at once take turns. The runner refuses a database where an
applied file was edited afterwards, or that carries migrations newer than this build.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import asyncpg

from zaphubd.backoff import retry_until_deadline
from zaphubd.db.database import OUTAGE_ERRORS
from zaphubd.errors import MigrationError

log = logging.getLogger("zaphubd.db.migrations")
# pg_advisory_lock key: the first 8 bytes of sha256("zaphubd.migrations") as a signed bigint.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"zaphubd.migrations").digest()[:8], "big", signed=True)
_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def _migration_files() -> Traversable:
    """sql/ of the source tree this package runs from, when it runs from one; else the files
    shipped as zaphubd.migrations. (An editable install maps zaphubd.migrations to the sql/
    of the tree it was installed from, which is not this one in a second checkout.)"""
    checkout = Path(__file__).resolve().parents[2] / "sql"
    if (checkout / "001_initial.sql").is_file() and (checkout.parent / "zaphubd").is_dir():
        return checkout
    return resources.files("zaphubd.migrations")


def load_migrations() -> list[Migration]:
    """Every migration this build knows, by version; numbering gaps or twins are an error."""
    found: list[Migration] = []
    for entry in _migration_files().iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration files are not numbered 001, 002, ...: {migration.name}"
            )
    return found


async def migrate(conn: asyncpg.Connection, known: list[Migration] | None = None) -> list[str]:
    """Apply what is pending; return the names applied. Holds the advisory lock throughout."""
    known = load_migrations() if known is None else known
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    INTEGER PRIMARY KEY,
                   name       TEXT NOT NULL,
                   checksum   TEXT NOT NULL,
                   applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {row["version"]: row for row in rows}
        _verify_applied(applied, known)
        done = []
        for migration in known:
            if migration.version not in applied:
                await _apply(conn, migration)
                done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


def _verify_applied(applied: dict[int, asyncpg.Record], known: list[Migration]) -> None:
    by_version = {m.version: m for m in known}
    newest = max(by_version, default=0)
    for version, row in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {row['name']}, newer than this zaphubd "
                f"(which knows up to {newest:03d}); upgrade zaphubd"
            )
        if migration.checksum != row["checksum"]:
            raise MigrationError(
                f"{migration.name} was edited after it was applied; restore it and add "
                "a new numbered migration instead"
            )


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    async with conn.transaction():
        await conn.execute(migration.sql)
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            migration.version,
            migration.name,
            migration.checksum,
        )
    log.info("applied migration %s", migration.name)


async def migrate_url(url: str, startup_timeout_s: float = 30) -> list[str]:
    """Connect, migrate, disconnect: the `zaphubd migrate` command."""

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(url)

    conn = await retry_until_deadline(connect, "postgres", startup_timeout_s, OUTAGE_ERRORS)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
