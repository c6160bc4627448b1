"""Crash and restart: nothing acknowledged is lost, nothing is sent twice.

The daemon runs as a subprocess against simnet (also a subprocess), real Postgres and Redis.
A client posts 300 messages to 3 recipients; the daemon is killed (SIGKILL) or stopped
(SIGTERM) in the middle; it is started again and the client, as a real one would, posts again
every message it has no answer for (same messageId: idempotent). Then every message that got
a 201 or a 200 must be in its recipient's mailbox exactly once, and the session must be
connected again without a new QR code.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.chaos.report import outcome, report
from tests.daemon_process import DaemonProcess, simnet_env
from tests.simnet_process import SimnetProcess, http_json, wait_until

RECIPIENTS = ["5511970000001", "5511970000002", "5511970000003"]
SENDER = "5511960000000"
TOTAL = 300


def daemon_env(
    pg_url: str, redis_url: str, simnet: SimnetProcess, tmp_path: Path
) -> dict[str, str]:
    return simnet_env(
        pg_url,
        redis_url,
        simnet.ws_url,
        tmp_path / "auth",
        NODE_ID="crash-node",
        RECONNECT_BASE_S="0.3",
        SHUTDOWN_TIMEOUT_S="15",
    )


def pair(daemon: DaemonProcess, simnet: SimnetProcess) -> str:
    status, body = http_json("POST", f"{daemon.url}/api/v1/sessions", {"label": "crash"})
    assert status == 201, body
    sid: str = body["data"]["id"]
    wait_until(
        lambda: (
            http_json("GET", f"{daemon.url}/api/v1/sessions/{sid}")[1]["data"]["status"]
            == "qr_pending"
        )
    )
    simnet.control("POST", "/control/scan", {"device_id": sid, "phone": SENDER})
    wait_until(
        lambda: (
            http_json("GET", f"{daemon.url}/api/v1/sessions/{sid}")[1]["data"]["status"]
            == "connected"
        )
    )
    return sid


def body_of(n: int) -> dict[str, Any]:
    return {"messageId": f"crash-{n}", "to": RECIPIENTS[n % 3], "text": f"crash-{n}"}


async def post_all(
    url: str, numbers: list[int], acked: dict[int, int], stop_after: int | None
) -> None:
    """POST each message (20 at a time); record the answers; return early after `stop_after`."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in numbers:
        queue.put_nowait(n)

    async def worker(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            if stop_after is not None and len(acked) >= stop_after:
                return
            n = queue.get_nowait()
            try:
                async with http.post(url, json=body_of(n)) as resp:
                    if resp.status in (200, 201):
                        acked[n] = resp.status
            except (TimeoutError, aiohttp.ClientError):
                pass  # no answer: the client will try again later

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        await asyncio.gather(*(worker(http) for _ in range(20)))


def delivered(simnet: SimnetProcess) -> Counter[str]:
    counts: Counter[str] = Counter()
    for phone in RECIPIENTS:
        for message in simnet.control("GET", f"/control/mailbox/{phone}")["messages"]:
            counts[message["content"]["text"]] += 1
    return counts


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_a_crash_mid_burst_loses_nothing_and_sends_nothing_twice(
    pg_url: str, redis_url: str, simnet: SimnetProcess, tmp_path: Path, stop: signal.Signals
) -> None:
    env = daemon_env(pg_url, redis_url, simnet, tmp_path)
    first = DaemonProcess(env, tmp_path / "first.log").start()
    first.wait_healthy()
    sid = pair(first, simnet)
    url = f"{first.url}/api/v1/sessions/{sid}/messages"
    acked: dict[int, int] = {}

    async def burst_then_stop() -> None:
        sending = asyncio.create_task(post_all(url, list(range(TOTAL)), acked, stop_after=None))
        while len(acked) < TOTAL // 3:
            await asyncio.sleep(0.01)
        first.signal(stop)  # mid-burst: some answered, some in flight, some not yet sent
        await sending

    asyncio.run(burst_then_stop())
    first.wait(30)
    acked_before = dict(acked)
    assert TOTAL // 3 <= len(acked_before) < TOTAL, "the stop did not land mid-burst"

    second = DaemonProcess(env, tmp_path / "second.log", port=first.port).start()
    try:
        second.wait_healthy()
        asyncio.run(
            post_all(url, [n for n in range(TOTAL) if n not in acked], acked, stop_after=None)
        )
        assert len(acked) == TOTAL, f"{TOTAL - len(acked)} posts still unanswered after the restart"
        wait_until(lambda: len(delivered(simnet)) == TOTAL, timeout_s=60)
        counts = delivered(simnet)
        report(
            f"daemon {stop.name} mid-burst",
            acked_before_stop=len(acked_before),
            **outcome([f"crash-{n}" for n in acked], counts),
        )
        lost = [n for n in acked_before if counts[f"crash-{n}"] == 0]
        twice = {text: c for text, c in counts.items() if c > 1}
        assert lost == [] and twice == {}, f"lost {lost}, duplicated {twice}"
        session = http_json("GET", f"{second.url}/api/v1/sessions/{sid}")[1]["data"]
        assert session["status"] == "connected"
        qr_events = http_json(
            "GET", f"{second.url}/api/v1/sessions/{sid}/events?event_type=session.qr_generated"
        )[1]
        assert qr_events["pagination"]["total"] == 1  # resumed with its credentials
    finally:
        second.stop()
