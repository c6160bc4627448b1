"""whatsmeow's store in zaphubd's Postgres, shared by every node (ZAPHUB_CREDENTIALS_STORE).

neonize opens a Postgres store when the name it is given starts with "postgres" (lib/pq),
and whatsmeow migrates its tables there on first use. Its upgrader is not schema-aware, so
every session shares one schema, `whatsmeow` (sql/008), made the default by `search_path`;
a shared store holds many devices, so the device of each session is recorded in
`session_credentials` when it pairs or connects and named to neonize at the next connect.
A session without one starts as a new device (a QR code).

neonize never closes a store it opened: each connect leaves a Go connection pool behind,
whose idle connections would stay open forever. Every connect therefore names its
connections (`application_name`, unique per process, session and attempt), and `sweep`
terminates this node's idle ones that no current attempt owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from zaphubd.db.credentials import PostgresCredentials
from zaphubd.db.database import Database
from zaphubd.transport import neonize_adopt

log = logging.getLogger("zaphubd.transport.neonize")

SCHEMA = "whatsmeow"
SWEEP_INTERVAL_S = 60.0
_JID_KEY = "whatsmeow_jid"
#: lib/pq knows no "prefer"/"allow": the DSN names what asyncpg's connection turned out to be.
_LIBPQ_SSLMODES = {"disable", "require", "verify-ca", "verify-full"}


@dataclass(frozen=True)
class StoreChoice:
    """Where one connect attempt's whatsmeow store is."""

    name: str  # NewAClient's name: a sqlite file, or a Postgres DSN
    jid: str | None = None  # the device to resume in a shared store
    app_name: str | None = None  # a shared store's connections of this attempt

    @property
    def shared(self) -> bool:
        return self.app_name is not None

    @property
    def new_device(self) -> bool:
        """A shared store without a device for the session: pair a new one (a QR code);
        neonize would otherwise resume the store's first device, another session's."""
        return self.shared and self.jid is None


class SharedStore:
    def __init__(self, db: Database, database_url: str) -> None:
        self._db = db
        self._url = database_url
        self._creds = PostgresCredentials(db)
        self._token = secrets.token_hex(4)  # this process: another node sweeps only its own
        self._ssl: bool | None = None
        self.migrated = False  # whatsmeow's tables are known to be up to date

    async def dsn_for(self, app_name: str) -> str:
        return await self._dsn(f"zwm:{self._token}:{app_name}")

    async def adopt(self, session_id: uuid.UUID, store: neonize_adopt.LocalStore) -> bool:
        """Copy a session's local store into the shared schema and record its device."""
        if not await neonize_adopt.copy_store(self._db, store):
            return False
        await self.remember(session_id, store.device)
        return True

    async def choose(self, session_id: uuid.UUID, attempt: int) -> StoreChoice:
        app_name = f"zwm:{self._token}:{session_id.hex}:{attempt}"
        return StoreChoice(await self._dsn(app_name), await self.device(session_id), app_name)

    async def device(self, session_id: uuid.UUID) -> str | None:
        """The session's device JID, if the shared store still holds that device (naming a
        missing device to neonize would crash the process)."""
        creds = await self._creds.load(session_id)
        jid = creds.get(_JID_KEY) if creds else None
        if not isinstance(jid, str):
            return None
        try:
            found = await self._db.fetchval(
                "SELECT 1 FROM whatsmeow.whatsmeow_device WHERE jid = $1", jid
            )
        except asyncpg.UndefinedTableError:  # whatsmeow has not migrated yet
            return None
        return jid if found else None

    async def remember(self, session_id: uuid.UUID, jid: str) -> None:
        await self._creds.save(session_id, {_JID_KEY: jid})

    async def remove(self, session_id: uuid.UUID) -> None:
        """The session's device and every row whatsmeow keeps for it, then the record."""
        jid = await self.device(session_id)
        if jid is not None:
            async with self._db.transaction() as conn:
                for statement in await _deletes_per_table(conn):
                    await conn.execute(statement, jid)
                await conn.execute("DELETE FROM whatsmeow.whatsmeow_device WHERE jid = $1", jid)
        await self._creds.delete(session_id)

    async def sweep(self, live: Iterable[str]) -> int:
        """Terminate this node's idle store connections that no current attempt owns."""
        rows = await self._db.fetch(
            """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE application_name LIKE $1 AND state = 'idle'
                 AND NOT application_name = ANY($2::text[])""",
            f"zwm:{self._token}:%",
            list(live),
        )
        return len(rows)

    async def run_sweeps(self, live: Callable[[], Iterable[str]]) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                closed = await self.sweep(live())
            except Exception as err:  # the next sweep tries again
                log.warning("closing idle whatsmeow store connections failed: %s", err)
                continue
            if closed:
                log.debug("closed %d idle whatsmeow store connection(s) of ended connects", closed)

    async def _dsn(self, app_name: str) -> str:
        parts = urlsplit(self._url)
        query = dict(parse_qsl(parts.query))
        if query.get("sslmode") not in _LIBPQ_SSLMODES:
            query["sslmode"] = "require" if await self._uses_ssl() else "disable"
        query.update(search_path=SCHEMA, application_name=app_name)
        return urlunsplit(parts._replace(scheme="postgres", query=urlencode(query)))

    async def _uses_ssl(self) -> bool:
        if self._ssl is None:
            with contextlib.suppress(asyncpg.PostgresError):
                self._ssl = bool(
                    await self._db.fetchval(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
                    )
                )
        return bool(self._ssl)


async def _deletes_per_table(conn: asyncpg.Connection) -> list[str]:
    """A DELETE for each table keyed by a device (`our_jid`): whatever whatsmeow's version
    has, without counting on its foreign keys to cascade."""
    rows = await conn.fetch(
        """SELECT format('DELETE FROM whatsmeow.%I WHERE our_jid = $1', table_name)
           FROM information_schema.columns
           WHERE table_schema = 'whatsmeow' AND column_name = 'our_jid'"""
    )
    return [str(r[0]) for r in rows]
