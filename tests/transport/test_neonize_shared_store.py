"""neonize's whatsmeow store in zaphubd's Postgres, offline: the real Go library connects
(and fails: WhatsApp is unreachable here) against a real Postgres.

What is checked: whatsmeow migrates its tables into the `whatsmeow` schema, not zaphubd's;
a recorded device is named to neonize (and a missing one never is: that would crash the
process); deleting a session deletes every row whatsmeow keeps for its device; a session
paired into a local sqlite file keeps that file; and the idle connections neonize leaves
behind after each connect are closed by the sweep.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.services import LocalServices, clone_database, drop_database
from tests.transport.conftest import Session
from zaphubd.db.database import Database
from zaphubd.transport.base import ConnectFailed
from zaphubd.transport.neonize import NeonizeTransport
from zaphubd.transport.neonize_store import SharedStore

pytestmark = pytest.mark.asyncio(loop_scope="session")

DEVICE = "5511900000001:7@s.whatsapp.net"


@pytest_asyncio.fixture(loop_scope="session")
async def store_db(services: LocalServices) -> AsyncIterator[tuple[Database, str]]:
    url = await clone_database(services)
    db = await Database.connect(url, min_size=1, max_size=4)
    yield db, url
    await db.close()
    await drop_database(services, url)


@pytest_asyncio.fixture(loop_scope="session")
async def shared(
    store_db: tuple[Database, str], tmp_path: Path
) -> AsyncIterator[tuple[NeonizeTransport, SharedStore, Database]]:
    db, url = store_db
    store = SharedStore(db, url)
    transport = NeonizeTransport(tmp_path / "auth", 10, stop_settle_s=2.0, shared=store)
    await transport.start()
    yield transport, store, db
    await transport.close()


async def _session_row(db: Database) -> uuid.UUID:
    sid: uuid.UUID = await db.fetchval(
        "INSERT INTO sessions (id, label) VALUES (gen_random_uuid(), 't') RETURNING id"
    )
    return sid


async def _ignore(event: object) -> None:
    pass


async def _connect_offline(session: Session) -> None:
    with pytest.raises(ConnectFailed):
        await session.client.connect()


async def _store_connections(db: Database) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'zwm:%'"
    )
    return count


def _device_row(columns: list[tuple[str, str]], jid: str) -> dict[str, Any]:
    """A device row as whatsmeow's pairing would leave it (keys of the right lengths)."""
    values: dict[str, Any] = {}
    for name, kind in columns:
        kind = kind.lower()
        if name == "jid":
            values[name] = jid
        elif kind in ("bytea", "blob"):
            values[name] = bytes(64 if name.endswith("_sig") else 32)
        elif "int" in kind:
            values[name] = 1
        elif kind == "uuid":
            values[name] = uuid.uuid4()
        elif kind == "boolean":
            values[name] = False
        else:
            values[name] = ""
    return values


async def _fake_device(db: Database, jid: str) -> None:
    columns = await db.fetch(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_schema = 'whatsmeow' AND table_name = 'whatsmeow_device'"""
    )
    values = _device_row([(c["column_name"], c["data_type"]) for c in columns], jid)
    names = ", ".join(values)
    marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await db.execute(
        f"INSERT INTO whatsmeow.whatsmeow_device ({names}) VALUES ({marks})",
        *values.values(),
    )


def _local_store_with_a_device(path: Path, jid: str) -> None:
    """A sqlite store migrated by the real whatsmeow, then given a device, an identity key,
    pinned chat settings and a LID mapping (booleans and shared tables to carry over)."""
    from neonize._binder import func_callback_bytes2, gocode
    from neonize.utils.log import log_whatsmeow

    assert gocode.GetAllDevices(str(path).encode(), func_callback_bytes2(log_whatsmeow)) == b""
    with sqlite3.connect(path) as local:
        columns = [(r[1], r[2]) for r in local.execute("PRAGMA table_info(whatsmeow_device)")]
        values = _device_row(columns, jid)
        values = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in values.items()}
        marks = ", ".join("?" for _ in values)
        local.execute(
            f"INSERT INTO whatsmeow_device ({', '.join(values)}) VALUES ({marks})",
            tuple(values.values()),
        )
        local.execute("INSERT INTO whatsmeow_identity_keys VALUES (?, 'peer', ?)", (jid, bytes(32)))
        local.execute(
            "INSERT INTO whatsmeow_chat_settings (our_jid, chat_jid, muted_until, pinned, "
            "archived) VALUES (?, 'ana@s.whatsapp.net', 0, 1, 0)",
            (jid,),
        )
        local.execute("INSERT INTO whatsmeow_lid_map VALUES ('123@lid', '5511900000002')")


async def test_whatsmeow_migrates_into_its_own_schema(
    shared: tuple[NeonizeTransport, SharedStore, Database],
) -> None:
    transport, _, db = shared
    session = Session(transport)
    await _connect_offline(session)
    tables = await db.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_name LIKE 'whatsmeow%'"
    )
    names = {r["table_name"] for r in tables}
    assert {"whatsmeow_device", "whatsmeow_identity_keys", "whatsmeow_sessions"} <= names
    assert {r["table_schema"] for r in tables} == {"whatsmeow"}
    assert not (transport.auth_dir / session.client.session_id.hex).exists()  # nothing local
    assert not await transport.has_credentials(session.client.session_id)


async def test_idle_connections_of_ended_connects_are_closed(
    shared: tuple[NeonizeTransport, SharedStore, Database],
) -> None:
    transport, store, db = shared
    session = Session(transport)
    for _ in range(3):
        await _connect_offline(session)
    assert await _store_connections(db) >= 3  # neonize closes none of its stores
    assert await store.sweep(transport._live_store_names()) >= 3
    for _ in range(50):  # pg_terminate_backend signals; the backends exit just after
        if await _store_connections(db) == 0:
            break
        await asyncio.sleep(0.1)
    assert await _store_connections(db) == 0


async def test_a_recorded_device_is_resumed_then_removed_with_its_rows(
    shared: tuple[NeonizeTransport, SharedStore, Database],
) -> None:
    transport, _, db = shared
    await _connect_offline(Session(transport))  # whatsmeow's tables exist from here
    sid = await _session_row(db)
    await transport.remember_device(sid, DEVICE)
    first = await transport.choose_store(sid, 1)
    assert first.jid is None and first.new_device  # recorded, but not in the store: new QR

    await _fake_device(db, DEVICE)
    await db.execute(
        "INSERT INTO whatsmeow.whatsmeow_identity_keys (our_jid, their_id, identity) "
        "VALUES ($1, 'peer', $2)",
        DEVICE,
        bytes(32),
    )
    assert await transport.has_credentials(sid)
    choice = await transport.choose_store(sid, 2)
    assert choice.jid == DEVICE and not choice.new_device
    client = transport.client(sid, _ignore)
    with pytest.raises(ConnectFailed, match="dial"):  # Go loaded the device, then dialled
        await client.connect()
    neonize_client = client._attempt.client if client._attempt else None
    assert neonize_client.jid.User == "5511900000001" and neonize_client.jid.Device == 7
    assert neonize_client.uuid == str(sid).encode()  # keyed by the session, not the phone
    assert not neonize_client.new_device

    await transport.remove_credentials(sid)
    assert not await transport.has_credentials(sid)
    for table in ("whatsmeow_device", "whatsmeow_identity_keys"):
        column = "jid" if table == "whatsmeow_device" else "our_jid"
        left = await db.fetchval(
            f"SELECT count(*) FROM whatsmeow.{table} WHERE {column} = $1",
            DEVICE,
        )
        assert left == 0, table
    assert await db.fetchval("SELECT count(*) FROM session_credentials") == 0


async def test_a_local_store_is_moved_into_the_shared_schema(
    shared: tuple[NeonizeTransport, SharedStore, Database],
) -> None:
    transport, _, db = shared
    sid = await _session_row(db)
    path = transport.prepare_store(sid)
    await asyncio.to_thread(_local_store_with_a_device, path, DEVICE)
    client = transport.client(sid, _ignore)
    with pytest.raises(ConnectFailed, match="dial"):  # from the moved device, not a new one
        await client.connect()
    assert client._attempt is not None
    assert client._attempt.store.shared and client._attempt.store.jid == DEVICE
    assert not path.parent.exists()  # the file is gone once copied
    pinned = await db.fetchval(
        "SELECT pinned FROM whatsmeow.whatsmeow_chat_settings WHERE our_jid = $1", DEVICE
    )
    assert pinned is True
    assert await db.fetchval(
        "SELECT identity FROM whatsmeow.whatsmeow_identity_keys WHERE our_jid = $1", DEVICE
    ) == bytes(32)
    assert await db.fetchval("SELECT pn FROM whatsmeow.whatsmeow_lid_map") == "5511900000002"
    assert await transport.has_credentials(sid)


async def test_a_local_store_that_cannot_be_moved_is_kept_and_used(
    shared: tuple[NeonizeTransport, SharedStore, Database],
) -> None:
    transport, _, db = shared
    sid = await _session_row(db)
    path = transport.prepare_store(sid)
    with sqlite3.connect(path) as local:  # no whatsmeow_version: written by no known version
        local.execute("CREATE TABLE whatsmeow_device (jid TEXT PRIMARY KEY)")
        local.execute("INSERT INTO whatsmeow_device VALUES (?)", (DEVICE,))
    choice = await transport.choose_store(sid, 1)
    assert choice.name == str(path) and not choice.shared
    assert await transport.has_credentials(sid)
