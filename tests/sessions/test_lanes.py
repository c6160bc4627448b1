"""Send lanes on a real Postgres queue: order, the prefetch caps, giving back what a
disconnected session cannot use, and giving up a send that keeps failing unexpectedly."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

from zaphubd.db.database import Database
from zaphubd.db.message_batches import NewOutbound
from zaphubd.db.messages import MessageRepo
from zaphubd.db.outbox import OutboxRepo
from zaphubd.db.sessions import SessionRepo
from zaphubd.sessions.lanes import MAX_UNEXPECTED_FAILURES, LaneContext, LaneSettings, SendLanes

SETTINGS = LaneSettings(
    prefetch=8, total_prefetch=10, poll_s=0.2, retry_base_s=0.01, retry_cap_s=0.05
)


class Sessions:
    """The part of SessionManager a lane uses: who is connected, and pacing (none)."""

    def __init__(self) -> None:
        self.connected: set[uuid.UUID] = set()
        self.changed = asyncio.Event()
        self.watchers: list = []

    def watch(self, started, stopped) -> None:  # type: ignore[no-untyped-def]
        self.watchers.append((started, stopped))

    def connected_client(self, sid: uuid.UUID) -> object | None:
        return object() if sid in self.connected else None

    async def wait_connected(self, sid: uuid.UUID) -> object:
        while sid not in self.connected:
            self.changed.clear()
            await self.changed.wait()
        return object()

    def send_rate_per_minute(self, sid: uuid.UUID) -> None:
        return None


async def queue(db: Database, count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    sid = uuid.uuid4()
    await SessionRepo(db).create(sid, "lane", None, None, {})
    ids = []
    for n in range(count):
        new = NewOutbound(sid, f"m{n}", "text", "5511@s.whatsapp.net", {"text": "x"}, {}, None)
        accepted = await MessageRepo(db).enqueue(new)
        assert accepted is not None
        ids.append(accepted[0].id)
    return sid, ids


async def mark_sent(db: Database, row_id: uuid.UUID) -> None:
    await db.execute("UPDATE messages SET status='sent', sent_at=now() WHERE id=$1", row_id)


async def test_order_and_prefetch_caps(db: Database) -> None:
    sessions, gate = Sessions(), asyncio.Event()
    done: defaultdict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)

    async def work(lane: LaneContext, row_id: uuid.UUID) -> None:
        await gate.wait()
        await mark_sent(db, row_id)
        done[lane.session_id].append(row_id)

    async def give_up(row_id: uuid.UUID, reason: str) -> None:
        raise AssertionError(reason)

    lanes = SendLanes(OutboxRepo(db), work, give_up, SETTINGS)
    lanes.attach(sessions)  # type: ignore[arg-type]
    queued = dict([await queue(db, 20) for _ in range(3)])
    sessions.connected.update(queued)
    for sid in queued:
        lanes.open(sid)
    await asyncio.sleep(0.3)
    # Three lanes want 8 each; together they may hold 10.
    assert lanes.held == 10
    assert all(lanes.state(sid).held <= 8 for sid in queued)  # type: ignore[union-attr]
    gate.set()
    for _ in range(100):
        if sum(len(v) for v in done.values()) == 60:
            break
        await asyncio.sleep(0.05)
    assert done == queued  # every send, each session in acceptance order
    assert lanes.held == 0
    await lanes.close()


async def test_a_disconnected_session_holds_nothing(db: Database) -> None:
    sessions = Sessions()
    started = asyncio.Event()

    async def work(lane: LaneContext, row_id: uuid.UUID) -> None:
        started.set()
        await lane.ready()  # the session dropped: this waits for it
        await mark_sent(db, row_id)

    lanes = SendLanes(OutboxRepo(db), work, lambda *_: asyncio.sleep(0), SETTINGS)
    lanes.attach(sessions)  # type: ignore[arg-type]
    sid, _ = await queue(db, 20)
    lanes.open(sid)
    await asyncio.sleep(0.2)
    assert lanes.held == 0  # not connected: nothing read
    sessions.connected.add(sid)
    sessions.changed.set()
    await started.wait()
    sessions.connected.discard(sid)
    await asyncio.sleep(0.3)
    # The send under way waits; the rest of its prefetch went back.
    assert lanes.held <= 1
    await lanes.close()


async def test_a_send_failing_unexpectedly_is_given_up(db: Database) -> None:
    sessions = Sessions()
    sid, ids = await queue(db, 3)
    sessions.connected.add(sid)
    tries: defaultdict[uuid.UUID, int] = defaultdict(int)
    given_up: list[uuid.UUID] = []
    sent: list[uuid.UUID] = []

    async def work(lane: LaneContext, row_id: uuid.UUID) -> None:
        tries[row_id] += 1
        if row_id == ids[0]:
            raise RuntimeError("boom")
        await mark_sent(db, row_id)
        sent.append(row_id)

    async def give_up(row_id: uuid.UUID, reason: str) -> None:
        given_up.append(row_id)
        await db.execute("UPDATE messages SET status='dlq' WHERE id=$1", row_id)

    lanes = SendLanes(OutboxRepo(db), work, give_up, SETTINGS)
    lanes.attach(sessions)  # type: ignore[arg-type]
    lanes.open(sid)
    for _ in range(200):
        if len(sent) == 2:
            break
        await asyncio.sleep(0.02)
    assert given_up == [ids[0]] and tries[ids[0]] == MAX_UNEXPECTED_FAILURES
    assert sent == ids[1:]  # the queue goes on after it
    await lanes.close()
