"""A receiver that hangs holds only its own host's slots: other sessions' deliveries go on."""

from __future__ import annotations

import asyncio
import time

from tests.gateway import StartGateway
from tests.webhooks.conftest import StartReceiver, deliveries, emit, webhook_gateway
from zaphubd.webhooks.hosts import LaneLimits

ONLY_CHAT = {"webhookEvents": ["chat.*"]}
#: More than the hanging host's lane can take, and more than the consumer's concurrency.
BACKLOG = 600
HEALTHY = 30
#: The healthy receiver's last event must arrive within this: a handler waits for room in the
#: hanging host's lane LaneLimits.max_wait_s at most (0.25 s); the rest is margin for a loaded
#: test machine. Measured: about 0.05 s.
BOUND_S = 1.0


async def test_a_hanging_receiver_does_not_delay_another_session(
    gateway: StartGateway, receiver_factory: StartReceiver
) -> None:
    healthy = await receiver_factory()
    dead = await receiver_factory(hang=True)
    gw = await webhook_gateway(gateway, webhook_timeout_ms=8000)
    bad = (await gw.create(webhook_url=dead.url, config=ONLY_CHAT))["id"]
    good = (await gw.create(webhook_url=healthy.url, config=ONLY_CHAT))["id"]
    await asyncio.gather(*(emit(gw, bad, "chat.presence", {"n": n}) for n in range(BACKLOG)))
    started = time.monotonic()
    for n in range(HEALTHY):
        await emit(gw, good, "chat.presence", {"n": n})
    got = await healthy.wait_for("chat.presence", HEALTHY, timeout_s=BOUND_S + 5)
    delay_s = max(r.at for r in got) - started
    assert delay_s < BOUND_S, f"healthy receiver waited {delay_s:.2f}s"
    # The hanging host got exactly its own slots' worth of requests, no more.
    assert len(dead.received) == LaneLimits().per_host
    _, delivered = await deliveries(gw, good, status="delivered")
    assert delivered == HEALTHY
