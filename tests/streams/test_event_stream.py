"""The live event stream end to end: events arrive as they happen, filtered; a client that
comes back with Last-Event-ID gets exactly what it missed, across a daemon restart too; a
burst larger than a stream's buffer loses nothing; a client that stops reading is dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.gateway import Api, Gateway, StartGateway
from tests.sse import SseReader
from zaphubd.db.database import Database

ME = "5511900000121"
FRIEND = "5511988880121"
MESSAGES = {"types": "message.received"}


async def say(gw: Gateway, message_id: str) -> None:
    body = {"from": FRIEND, "to": ME, "id": message_id, "message": {"type": "text", "text": "x"}}
    await gw.net.post("/control/inbound", body)


async def open_stream(api: Api, sid: str, **headers: str) -> SseReader:
    resp = await api.get(f"/api/v1/sessions/{sid}/events/stream", params=MESSAGES, headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/event-stream"
    return SseReader(resp)


def message_ids(frames: list[Any]) -> list[str]:
    return [f.data["payload"]["messageId"] for f in frames]


async def test_live_events_and_a_resume_that_misses_and_repeats_nothing(
    gateway: StartGateway, capfd: pytest.CaptureFixture[str]
) -> None:
    gw = await gateway(stream_heartbeat_s=1)
    sid = (await gw.connect(ME))["id"]
    reader = await open_stream(gw.api, sid)
    for n in range(3):
        await say(gw, f"S{n}")
    frames = await reader.events(3)
    assert message_ids(frames) == ["S0", "S1", "S2"]
    assert {f.data["event_type"] for f in frames} == {"message.received"}
    assert all(f.data["session_id"] == sid for f in frames)
    reader.resp.close()
    await asyncio.sleep(1.5)  # the next heartbeat finds the client gone: a normal end
    logged = capfd.readouterr().err  # the daemon's own log handler writes to stderr
    assert "unhandled error" not in logged and "Traceback" not in logged

    await say(gw, "S3")
    resumed = await open_stream(gw.api, sid, **{"Last-Event-ID": frames[1].id or ""})
    assert message_ids(await resumed.events(2)) == ["S2", "S3"]
    await resumed.quiet()


async def test_a_stream_resumes_across_a_daemon_restart(
    gateway: StartGateway, api: Callable[..., Awaitable[Api]]
) -> None:
    gw = await gateway()
    sid = (await gw.connect(ME))["id"]
    reader = await open_stream(gw.api, sid)
    await say(gw, "R0")
    [seen] = await reader.events(1)
    reader.resp.close()
    await gw.api.close()  # the daemon stops; simnet keeps what comes meanwhile
    await say(gw, "R1")
    await say(gw, "R2")
    again: TestClient[Any, Any] = await api(
        transport="simnet",
        simnet_url=gw.net.url,
        auth_data_dir=gw.auth_dir,
        reconnect_base_s=0.2,
        session_lease_ttl_s=3,
    )
    resumed = await open_stream(again, sid, **{"Last-Event-ID": seen.id or ""})
    assert message_ids(await resumed.events(2, timeout_s=20)) == ["R1", "R2"]
    await resumed.quiet()


async def insert_burst(db: Database, sid: str, count: int, pad: int) -> None:
    await db.execute(
        """INSERT INTO events (session_id, event_type, event_category, payload)
           SELECT $1, 'message.received', 'message',
                  jsonb_build_object('messageId', 'B' || g, 'pad', repeat('x', $3))
           FROM generate_series(1, $2) AS g""",
        sid,
        count,
        pad,
    )


async def test_a_burst_larger_than_the_buffer_arrives_whole(
    gateway: StartGateway, db: Database
) -> None:
    gw = await gateway(stream_buffer_events=10)
    sid = (await gw.create())["id"]
    reader = await open_stream(gw.api, sid)
    await insert_burst(db, sid, 1200, 10)
    frames = await reader.events(1200)
    assert message_ids(frames) == [f"B{n}" for n in range(1, 1201)]
    await reader.quiet()


async def test_a_client_that_stops_reading_is_dropped_and_can_resume(
    gateway: StartGateway, db: Database
) -> None:
    gw = await gateway(stream_buffer_events=10, stream_heartbeat_s=1, stream_max_per_key=1)
    sid = (await gw.create())["id"]
    reader = await open_stream(gw.api, sid)
    await insert_burst(db, sid, 2000, 8000)  # far more than the socket buffers hold
    await asyncio.sleep(4)  # the daemon's write waits for 2 heartbeats, then gives up
    got: list[Any] = []
    while (frame := await reader.frame()) is not None:
        if frame.data_lines:
            got.append(frame)
    assert reader.cut and 0 < len(got) < 2000  # what the sockets held, then cut off
    assert message_ids(got) == [f"B{n}" for n in range(1, len(got) + 1)]
    # Its slot is free again (one stream per key here), and nothing is lost.
    resumed = await open_stream(gw.api, sid, **{"Last-Event-ID": got[-1].id or ""})
    rest = await resumed.events(2000 - len(got))
    assert message_ids(rest) == [f"B{n}" for n in range(len(got) + 1, 2001)]


async def test_bad_requests(gateway: StartGateway) -> None:
    gw = await gateway(stream_max_per_key=1)
    sid = (await gw.create())["id"]
    base = f"/api/v1/sessions/{sid}/events/stream"
    resp = await gw.api.get(base, headers={"Last-Event-ID": "12"})
    assert resp.status == 400 and "Last-Event-ID" in await resp.text()
    resp = await gw.api.get(base, params={"types": "message.*,nope.*"})
    assert resp.status == 400 and "nope" in await resp.text()
    resp = await gw.api.get("/api/v1/sessions/6b1c6f5e-0000-4000-8000-000000000000/events/stream")
    assert resp.status == 404
    first = await gw.api.get(base)
    assert first.status == 200
    second = await gw.api.get("/api/v1/events/stream")
    assert second.status == 429 and "ZAPHUB_STREAM_MAX_PER_KEY" in await second.text()
    first.close()
