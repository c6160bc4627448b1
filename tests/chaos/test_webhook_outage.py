"""A webhook receiver goes away and comes back: every event is delivered once it returns,
through retries that are recorded. `make test` takes the receiver down for 8 seconds; the
slow variant (`make test-all`) for the 60 seconds of the reliability issue."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.chaos.report import report
from tests.chaos.test_crash import pair
from tests.daemon_process import DaemonProcess, simnet_env
from tests.services import localservices
from tests.simnet_process import SimnetProcess, http_json, wait_until


class Receiver:
    """A webhook receiver on a fixed loopback port that can be switched off and on."""

    def __init__(self) -> None:
        self.port = localservices.free_port()
        self.got: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def up(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            self.got.append(await request.json())
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/hook", hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()  # the port is closed: connections are refused
            self._runner = None


@pytest.fixture
def simnet(tmp_path: Path):  # type: ignore[no-untyped-def]
    proc = SimnetProcess(tmp_path / "simnet.log").start()
    yield proc
    proc.stop()


def deliveries(daemon: DaemonProcess, sid: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        _, body = http_json(
            "GET", f"{daemon.url}/api/v1/sessions/{sid}/webhook/events?limit=100&offset={offset}"
        )
        items += body["data"]
        if not body["pagination"]["has_more"]:
            return items
        offset += 100


async def run_outage(
    daemon: DaemonProcess, simnet: SimnetProcess, receiver: Receiver, outage_s: float
) -> str:
    await receiver.up()
    try:
        return await outage(daemon, simnet, receiver, outage_s)
    finally:
        await receiver.down()  # before the loop closes, or its open connections leak


async def outage(
    daemon: DaemonProcess, simnet: SimnetProcess, receiver: Receiver, outage_s: float
) -> str:
    sid = await asyncio.to_thread(pair, daemon, simnet)
    await asyncio.to_thread(
        http_json, "PATCH", f"{daemon.url}/api/v1/sessions/{sid}", {"webhook_url": receiver.url}
    )
    await receiver.down()
    for n in range(20):
        body = {"messageId": f"wh-{n}", "to": "5511930000001", "text": f"event source {n}"}
        status, _ = await asyncio.to_thread(
            http_json, "POST", f"{daemon.url}/api/v1/sessions/{sid}/messages", body
        )
        assert status == 201
    await asyncio.sleep(outage_s)
    await receiver.up()

    def all_delivered() -> bool:
        items = deliveries(daemon, sid)
        return bool(items) and all(d["status"] == "delivered" for d in items)

    await asyncio.to_thread(wait_until, all_delivered, 120, 0.5)
    return sid


@pytest.mark.parametrize(
    "outage_s",
    [8, pytest.param(60, marks=[pytest.mark.slow, pytest.mark.timeout(400)])],
    ids=["8s", "60s"],
)
def test_every_event_reaches_a_receiver_that_was_down(
    pg_url: str, redis_url: str, simnet: SimnetProcess, tmp_path: Path, outage_s: float
) -> None:
    env = simnet_env(
        pg_url,
        redis_url,
        simnet.ws_url,
        tmp_path / "auth",
        WEBHOOK_ALLOW_PRIVATE="true",
        WEBHOOK_TIMEOUT_MS="1000",
        # Enough retries to outlast the outage: base x (1 + 2 + 4 + ... + 2^7) > 60 s.
        WEBHOOK_MAX_RETRIES="8",
        WEBHOOK_BACKOFF_BASE_MS="500",
    )
    daemon = DaemonProcess(env, tmp_path / "daemon.log").start()
    receiver = Receiver()
    try:
        daemon.wait_healthy()
        started = time.monotonic()
        sid = asyncio.run(run_outage(daemon, simnet, receiver, outage_s))
        items = deliveries(daemon, sid)
        failed = f"{daemon.url}/api/v1/sessions/{sid}/events?event_type=webhook.failed&limit=1"
        failed_attempts = http_json("GET", failed)[1]["pagination"]["total"]
    finally:
        daemon.stop()
    during = [d for d in items if d["attempts"] > 1]
    arrivals = Counter(envelope["deliveryId"] for envelope in receiver.got)
    report(
        f"webhook receiver down {outage_s:g} s",
        deliveries=len(items),
        retried=len(during),
        delivered=sum(1 for d in items if arrivals[d["delivery_id"]] >= 1),
        lost=sum(1 for d in items if arrivals[d["delivery_id"]] == 0),
        received_twice=sum(1 for c in arrivals.values() if c > 1),
        failed_attempts_recorded=failed_attempts,
    )
    assert len(during) >= 20, "the outage did not make deliveries retry"
    assert all(d["status"] == "delivered" for d in items)
    received = {envelope["deliveryId"] for envelope in receiver.got}
    assert {d["delivery_id"] for d in items} <= received  # every delivery arrived
    event_types = {envelope["event"] for envelope in receiver.got}
    assert {"message.send.queued", "message.sent"} <= event_types
    assert time.monotonic() - started >= outage_s
    assert failed_attempts >= len(during)  # each failed attempt is recorded as an event
