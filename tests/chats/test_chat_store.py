"""The chats table follows the messages table (sql/015 triggers), and the list and page
queries run on their indexes on a table with many messages and chats."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from zaphubd.db.chats import AT, ORDER_COLUMNS, ORDER_KEY, ChatRepo
from zaphubd.db.database import Database
from zaphubd.db.lid_map import LidMap
from zaphubd.db.messages import MessageRepo

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ANA = "5511944440000@s.whatsapp.net"
BEA = "5511933330000@s.whatsapp.net"
LID = "123456789012345@lid"


async def new_session(db: Database) -> uuid.UUID:
    sid = uuid.uuid4()
    await db.execute("INSERT INTO sessions (id, label) VALUES ($1, 'chats')", sid)
    return sid


async def inbound(
    db: Database, sid: uuid.UUID, chat: str, wa_id: str, at: datetime, name: str | None = None
) -> uuid.UUID:
    row_id = uuid.uuid4()
    await db.execute(
        """INSERT INTO messages (id, session_id, message_id, direction, type, to_jid, from_jid,
               chat_jid, status, content, metadata, wa_message_id, wa_timestamp)
           VALUES ($1, $2, $3, 'inbound', 'text', $4, $4, $4, 'delivered', '{}', $5, $3, $6)""",
        row_id,
        sid,
        wa_id,
        chat,
        {"pushName": name} if name else {},
        at,
    )
    return row_id


async def queued(db: Database, sid: uuid.UUID, to: str, key: str) -> uuid.UUID:
    row_id = uuid.uuid4()
    await db.execute(
        """INSERT INTO messages (id, session_id, message_id, direction, type, to_jid, status,
               send_seq)
           VALUES ($1, $2, $3, 'outbound', 'text', $4, 'queued', nextval('messages_send_seq'))""",
        row_id,
        sid,
        key,
        to,
    )
    return row_id


async def chats_of(db: Database, sid: uuid.UUID) -> list[tuple[str, str | None]]:
    rows, _ = await ChatRepo(db).list_page(sid, 100)
    return [(r.chat_jid, r.last_message.message_id) for r in rows]


async def test_the_chats_table_follows_the_messages(db: Database) -> None:
    sid = await new_session(db)
    await inbound(db, sid, ANA, "A1", T0, "Ana")
    await inbound(db, sid, BEA, "B1", T0 + timedelta(seconds=5))
    # A history sync hands over an older message later: it is not the chat's last one.
    await inbound(db, sid, ANA, "A0", T0 - timedelta(days=3))
    await queued(db, sid, "status@broadcast", "story")
    assert await chats_of(db, sid) == [(BEA, "B1"), (ANA, "A1")]
    assert (await ChatRepo(db).get(sid, ANA)).name == "Ana"  # type: ignore[union-attr]

    # A send through the API sorts where it was accepted (now), sent or not.
    out = await queued(db, sid, ANA, "out-1")
    assert await chats_of(db, sid) == [(ANA, "out-1"), (BEA, "B1")]
    await MessageRepo(db).mark_sent(out, "WA-OUT", T0 + timedelta(seconds=1))
    assert await chats_of(db, sid) == [(ANA, "out-1"), (BEA, "B1")]
    # A message that came with WhatsApp's time moves when that time is corrected.
    correct = "UPDATE messages SET wa_timestamp = $2 WHERE message_id = $1"
    await db.execute(correct, "B1", datetime.now(UTC) + timedelta(hours=1))
    assert await chats_of(db, sid) == [(BEA, "B1"), (ANA, "out-1")]
    await db.execute(correct, "B1", T0)
    assert await chats_of(db, sid) == [(ANA, "out-1"), (BEA, "B1")]

    # A LID contact's chat becomes its phone's chat when the mapping is learned.
    await inbound(db, sid, LID, "L1", datetime.now(UTC) + timedelta(hours=2))
    assert (await chats_of(db, sid))[0] == (LID, "L1")
    await LidMap(db).learn(sid, LID, "5511922220000@s.whatsapp.net")
    assert await chats_of(db, sid) == [
        ("5511922220000@s.whatsapp.net", "L1"),
        (ANA, "out-1"),
        (BEA, "B1"),
    ]


async def test_deleting_a_chats_last_message_makes_the_one_before_it_last(db: Database) -> None:
    sid = await new_session(db)
    first = await inbound(db, sid, ANA, "A1", T0)
    last = await inbound(db, sid, ANA, "A2", T0 + timedelta(seconds=5))
    await inbound(db, sid, BEA, "B1", T0 + timedelta(seconds=1))
    delete = "DELETE FROM messages WHERE id = $1"  # what "delete for me" does
    await db.execute(delete, last)
    assert await chats_of(db, sid) == [(BEA, "B1"), (ANA, "A1")]
    await db.execute(delete, first)
    assert await chats_of(db, sid) == [(BEA, "B1")]  # no message left: no chat


async def test_a_chats_pages_in_whatsapps_order(db: Database) -> None:
    sid = await new_session(db)
    for n in (3, 1, 4, 2, 0):  # stored in another order than sent
        await inbound(db, sid, ANA, f"A{n}", T0 + timedelta(seconds=n))
    repo = ChatRepo(db)
    page = await repo.messages_page(sid, ANA, 2)
    assert [m.message_id for m in page.rows] == ["A4", "A3"] and page.has_more
    older = await repo.messages_page(sid, ANA, 2, page.rows[-1].id, "before")
    assert [m.message_id for m in older.rows] == ["A2", "A1"] and older.has_more
    newer = await repo.messages_page(sid, ANA, 5, older.rows[-1].id, "after")
    assert [m.message_id for m in newer.rows] == ["A4", "A3", "A2"] and not newer.has_more


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


async def _plan(db: Database, sql: str, *args: Any) -> list[dict[str, Any]]:
    raw = await db.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
    plan = json.loads(raw) if isinstance(raw, str) else raw
    return _nodes(plan[0]["Plan"])


async def test_pages_are_index_scans_on_a_big_table(db: Database) -> None:
    """20,000 messages in 2,000 chats: a page of chats reads chats_recent_idx backwards and
    stops at the limit, a page of a chat's messages reads messages_chat_order_idx; neither
    sorts nor scans the table."""
    sid = await new_session(db)
    await db.execute(
        """INSERT INTO messages (id, session_id, message_id, direction, type, to_jid, from_jid,
               chat_jid, status, wa_message_id, wa_timestamp)
           SELECT gen_random_uuid(), $1, 'M' || n, 'inbound', 'text', c, c, c, 'delivered',
                  'M' || n, $2::timestamptz + make_interval(secs => n)
           FROM generate_series(1, 20000) AS n,
                LATERAL (SELECT (5511900000000 + n % 2000)::text || '@s.whatsapp.net' AS c) j""",
        sid,
        T0,
    )
    await db.execute("ANALYZE messages")
    await db.execute("ANALYZE chats")
    repo = ChatRepo(db)
    rows, more = await repo.list_page(sid, 50)
    assert len(rows) == 50 and more and rows[0].last_message.message_id == "M20000"
    assert await db.fetchval("SELECT count(*) FROM chats WHERE session_id = $1", sid) == 2000

    listing = await _plan(
        db,
        """SELECT c.chat_jid FROM chats c JOIN messages m ON m.id = c.last_message_id
           WHERE c.session_id = $1 AND (c.last_at, c.chat_jid) < ($2, $3)
           ORDER BY c.last_at DESC, c.chat_jid DESC LIMIT 51""",
        sid,
        rows[-1].last_at,
        rows[-1].chat_jid,
    )
    kinds = {(n["Node Type"], n.get("Index Name")) for n in listing}
    assert ("Index Scan", "chats_recent_idx") in kinds or (
        "Index Only Scan",
        "chats_recent_idx",
    ) in kinds, kinds
    assert not any(n["Node Type"] in ("Sort", "Seq Scan") for n in listing), kinds

    chat = rows[0].chat_jid
    paging = await _plan(
        db,
        f"""SELECT id FROM messages
           WHERE session_id = $1 AND COALESCE(chat_jid, to_jid) = $2
             AND {ORDER_KEY} < (SELECT {ORDER_COLUMNS} FROM messages WHERE id = $3)
           ORDER BY {AT} DESC, created_at DESC, id DESC
           LIMIT 51""",
        sid,
        chat,
        rows[0].last_message.id,
    )
    kinds = {(n["Node Type"], n.get("Index Name")) for n in paging}
    assert any(name == "messages_chat_order_idx" for _, name in kinds), kinds
    assert not any(n["Node Type"] in ("Sort", "Seq Scan") for n in paging), kinds


async def test_the_migration_fills_chats_from_messages_stored_before(db: Database) -> None:
    """sql/015's backfill gives the chats the triggers would have kept."""
    sid = await new_session(db)
    await inbound(db, sid, ANA, "A1", T0, "Ana")
    await inbound(db, sid, ANA, "A2", T0 + timedelta(seconds=1))
    await inbound(db, sid, BEA, "B1", T0 - timedelta(days=1), "Bea")
    await queued(db, sid, BEA, "out-1")
    await queued(db, sid, "status@broadcast", "story")
    kept = await chats_of(db, sid)
    names = await db.fetch("SELECT chat_jid, name FROM chats ORDER BY chat_jid")
    sql = (Path(__file__).parents[2] / "sql" / "015_chats.sql").read_text()
    backfill = sql[sql.index("-- The chats of the messages stored before this migration.") :]
    await db.execute("DELETE FROM chats")
    await db.execute(backfill)
    assert await chats_of(db, sid) == kept == [(BEA, "out-1"), (ANA, "A2")]
    assert await db.fetch("SELECT chat_jid, name FROM chats ORDER BY chat_jid") == names
    assert [r["name"] for r in names] == ["Bea", "Ana"]
