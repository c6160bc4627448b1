"""Dependency outages mid-burst: Redis (AOF on) or Postgres restarted while sends flow.

The daemon (subprocess) runs on a Postgres and a Redis of its own that the test restarts,
against simnet. While Postgres is down the API answers 503 (never 500); while Redis is down
sends are still accepted (201): they wait in Postgres and need no Redis. Afterwards every
message that got a 201 or a 200 is in its recipient's mailbox exactly once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.chaos.report import outcome, report
from tests.chaos.test_crash import pair
from tests.daemon_process import DaemonProcess, simnet_env
from tests.services import localservices
from tests.simnet_process import SimnetProcess, http_json, wait_until

RECIPIENT = "5511980000001"
TOTAL = 150


@dataclass
class Private:
    pg: object
    redis: object


@pytest.fixture
def private() -> Iterator[Private]:
    """A Postgres and a Redis (appendonly, as in production) this test may restart."""
    workdir = Path(tempfile.mkdtemp(prefix="zaphubd-chaos-"))
    os.chmod(workdir, 0o755)
    pg = localservices.Postgres(workdir / "pg", localservices.free_port())
    pg.ensure(fast=True)
    redis = localservices.Redis(workdir / "redis", localservices.free_port())
    redis.ensure(appendonly=True)
    yield Private(pg, redis)
    pg.stop()
    redis.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def simnet(tmp_path: Path) -> Iterator[SimnetProcess]:
    proc = SimnetProcess(tmp_path / "simnet.log").start()
    yield proc
    proc.stop()


def start_daemon(private: Private, simnet: SimnetProcess, tmp_path: Path) -> DaemonProcess:
    env = simnet_env(
        private.pg.url,  # type: ignore[attr-defined]
        private.redis.url,  # type: ignore[attr-defined]
        simnet.ws_url,
        tmp_path / "auth",
        SEND_POLL_S="2",
        RECONNECT_BASE_S="0.3",
        QUEUE_VISIBILITY_TIMEOUT_S="5",
    )
    daemon = DaemonProcess(env, tmp_path / "daemon.log").start()
    daemon.wait_healthy()
    return daemon


async def burst_with_outage(
    url: str, down: Callable[[], None], up: Callable[[], None]
) -> tuple[dict[int, int], Counter[int]]:
    """POST TOTAL messages; take the dependency down after a third is acknowledged, bring
    it back two seconds later, then post again whatever got no 2xx (same messageId)."""
    acked: dict[int, int] = {}
    statuses: Counter[int] = Counter()
    pending = list(range(TOTAL))
    outage = {"done": False}

    async def post(http: aiohttp.ClientSession, n: int) -> None:
        body = {"messageId": f"outage-{n}", "to": RECIPIENT, "text": f"outage-{n}"}
        try:
            async with http.post(url, json=body) as resp:
                statuses[resp.status] += 1
                await resp.read()
                if resp.status in (200, 201):
                    acked[n] = resp.status
        except (aiohttp.ClientError, TimeoutError):
            statuses[0] += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        deadline = time.monotonic() + 120
        while pending and time.monotonic() < deadline:
            for start in range(0, len(pending), 10):
                await asyncio.gather(*(post(http, n) for n in pending[start : start + 10]))
                if not outage["done"] and len(acked) >= TOTAL // 3:
                    outage["done"] = True
                    down()
                    await asyncio.sleep(2)  # requests keep coming while it is down
                    for n in range(TOTAL // 3, TOTAL // 3 + 20):
                        await post(http, n)
                    up()
            pending = [n for n in range(TOTAL) if n not in acked]
            if pending:
                await asyncio.sleep(1)
    return acked, statuses


def delivered(simnet: SimnetProcess) -> Counter[str]:
    box = simnet.control("GET", f"/control/mailbox/{RECIPIENT}")["messages"]
    return Counter(m["content"]["text"] for m in box)


def assert_delivered_once(
    simnet: SimnetProcess, acked: dict[int, int], fault: str, statuses: Counter[int]
) -> None:
    wait_until(lambda: len(delivered(simnet)) >= len(acked), timeout_s=90)
    counts = delivered(simnet)
    answers = ",".join(f"{code or 'none'}:{n}" for code, n in sorted(statuses.items()))
    report(fault, answers=answers, **outcome([f"outage-{n}" for n in acked], counts))
    lost = [n for n in acked if counts[f"outage-{n}"] == 0]
    twice = {text: c for text, c in counts.items() if c > 1}
    assert lost == [] and twice == {}, f"lost {lost}, duplicated {twice}"


def wait_port_closed(port: int) -> None:
    wait_until(lambda: not localservices.port_open(port), timeout_s=15)


def test_redis_restart_mid_burst(private: Private, simnet: SimnetProcess, tmp_path: Path) -> None:
    daemon = start_daemon(private, simnet, tmp_path)
    redis = private.redis
    try:
        sid = pair(daemon, simnet)

        def down() -> None:
            redis.stop()  # type: ignore[attr-defined]
            wait_port_closed(redis.port)  # type: ignore[attr-defined]

        def up() -> None:
            redis.ensure(appendonly=True)  # type: ignore[attr-defined]

        acked, statuses = asyncio.run(
            burst_with_outage(f"{daemon.url}/api/v1/sessions/{sid}/messages", down, up)
        )
        assert statuses[500] == 0, statuses
        assert set(statuses) <= {0, 200, 201, 503}, statuses
        assert len(acked) == TOTAL
        assert_delivered_once(simnet, acked, "Redis restarted mid-burst", statuses)
    finally:
        daemon.stop()
    # Sends wait in Postgres and a local lane is woken in process: an outage of Redis does
    # not refuse a single send.
    assert statuses[503] == 0, statuses
    assert "unhandled error" not in daemon.logs()


def test_postgres_restart_mid_burst(
    private: Private, simnet: SimnetProcess, tmp_path: Path
) -> None:
    daemon = start_daemon(private, simnet, tmp_path)
    pg = private.pg
    try:
        sid = pair(daemon, simnet)
        acked, statuses = asyncio.run(
            burst_with_outage(
                f"{daemon.url}/api/v1/sessions/{sid}/messages",
                pg.stop,  # type: ignore[attr-defined]
                pg.ensure,  # type: ignore[attr-defined]
            )
        )
        assert statuses[500] == 0, statuses
        assert statuses[503] > 0, f"the outage was not seen: {statuses}"
        assert len(acked) == TOTAL
        assert_delivered_once(simnet, acked, "Postgres restarted mid-burst", statuses)
    finally:
        daemon.stop()
    assert "unhandled error" not in daemon.logs()


def test_simnet_killed_and_restarted(private: Private, tmp_path: Path) -> None:
    """The network itself goes away: sessions reconnect under backoff and the sends queued
    meanwhile go out, once each."""
    state = tmp_path / "simnet-state.json"
    net = SimnetProcess(tmp_path / "simnet.log", state=state).start()
    daemon = start_daemon(private, net, tmp_path)
    try:
        sid = pair(daemon, net)
        time.sleep(1.5)  # let simnet save the pairing (debounced)
        net.kill()
        acked, statuses = asyncio.run(
            burst_with_outage(
                f"{daemon.url}/api/v1/sessions/{sid}/messages", lambda: None, lambda: None
            )
        )
        assert len(acked) == TOTAL and statuses[500] == 0
        time.sleep(2)
        net = SimnetProcess(tmp_path / "simnet2.log", state=state, port=net.port).start()
        assert_delivered_once(net, acked, "simnet killed, restarted 2 s later", statuses)
        events = http_json(
            "GET",
            f"{daemon.url}/api/v1/sessions/{sid}/events?event_type=session.reconnecting&limit=50",
        )[1]
        delays = [e["payload"]["delay_s"] for e in reversed(events["data"])]
        assert len(delays) >= 2 and delays[-1] > delays[0]  # backed off while it was down
        assert (
            http_json("GET", f"{daemon.url}/api/v1/sessions/{sid}")[1]["data"]["status"]
            == "connected"
        )
    finally:
        daemon.stop()
        net.stop()
