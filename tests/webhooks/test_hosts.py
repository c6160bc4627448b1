"""Per-host lanes: concurrency per host, waiting in line, refusing for congested hosts."""

from __future__ import annotations

import asyncio
import time

from zaphubd.webhooks.hosts import Admission, HostLanes, LaneLimits, Work

OK, REFUSED = Admission.ACCEPTED, Admission.REFUSED

LIMITS = LaneLimits(per_host=2, waiting=3, congested_waiting=1, max_wait_s=0.2, slow_s=0.1)


class Gate:
    """Attempts that run until released, counting how many run at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.running = 0
        self.peak = 0
        self.done = 0

    async def attempt(self) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.release.wait()
        finally:
            self.running -= 1
        self.done += 1

    def start(self) -> Work:
        return self.attempt()


async def test_a_host_runs_at_most_per_host_attempts_and_others_are_not_held_up() -> None:
    lanes, slow, fast = HostLanes(LIMITS), Gate(), Gate()
    fast.release.set()
    for _ in range(5):  # 2 running + 3 waiting: all accepted without waiting
        assert await lanes.submit("slow:80", slow.start) is OK
    await asyncio.sleep(0.01)
    assert slow.peak == 2 and lanes.held == 5
    for _ in range(4):
        assert await lanes.submit("fast:80", fast.start) is OK
    await asyncio.sleep(0.01)
    assert fast.done == 4 and slow.running == 2
    slow.release.set()
    await asyncio.sleep(0.01)
    assert slow.done == 5 and slow.peak == 2 and lanes.held == 0


async def test_a_full_lane_makes_the_submitter_wait_then_refuses() -> None:
    lanes, gate = HostLanes(LaneLimits(per_host=1, waiting=1, max_wait_s=0.2, slow_s=5)), Gate()
    assert await lanes.submit("h:80", gate.start) is OK
    assert await lanes.submit("h:80", gate.start) is OK
    started = time.monotonic()
    assert await lanes.submit("h:80", gate.start) is REFUSED  # nobody made room within max_wait_s
    assert 0.15 < time.monotonic() - started < 1
    waiter = asyncio.create_task(lanes.submit("h:80", gate.start))
    await asyncio.sleep(0.05)
    gate.release.set()  # the running one ends, the waiting one starts: room for the waiter
    assert await waiter is OK
    await asyncio.sleep(0.01)
    assert gate.done == 3


async def test_a_congested_host_is_refused_at_once() -> None:
    lanes = HostLanes(LaneLimits(per_host=2, waiting=3, congested_waiting=1, slow_s=5))
    gate = Gate()
    for _ in range(3):  # 2 running, 1 waiting
        assert await lanes.submit("dead:80", gate.start) is OK
    lanes.report("dead:80", ok=False, latency_s=0.05)
    assert lanes.congested("dead:80")
    started = time.monotonic()
    assert await lanes.submit("dead:80", gate.start) is REFUSED  # congested room is 1, 1 waiting
    assert time.monotonic() - started < 0.05
    lanes.report("dead:80", ok=True, latency_s=0.01)
    assert not lanes.congested("dead:80")
    assert await lanes.submit("dead:80", gate.start) is OK
    await lanes.close()


async def test_an_attempt_running_past_slow_s_marks_its_host_congested() -> None:
    lanes, gate = HostLanes(LIMITS), Gate()
    assert await lanes.submit("hang:80", gate.start) is OK
    await asyncio.sleep(0.01)
    assert not lanes.congested("hang:80")
    await asyncio.sleep(LIMITS.slow_s + 0.05)
    assert lanes.congested("hang:80")
    await lanes.close()


async def test_close_cancels_running_and_closes_waiting_work() -> None:
    lanes, gate = HostLanes(LIMITS), Gate()
    for _ in range(5):
        assert await lanes.submit("h:80", gate.start) is OK
    await asyncio.sleep(0.01)
    await lanes.close()  # no "coroutine was never awaited" warning: filterwarnings=error
    assert gate.running == 0 and gate.done == 0


async def test_closing_lets_attempts_in_flight_finish_and_refuses_new_ones() -> None:
    lanes, gate = HostLanes(LIMITS), Gate()
    for _ in range(4):  # 2 running, 2 waiting
        assert await lanes.submit("h:80", gate.start) is OK
    await asyncio.sleep(0.01)
    closing = asyncio.create_task(lanes.close(grace_s=1.0))
    await asyncio.sleep(0.01)
    gate.release.set()
    await closing
    assert gate.done == 2  # the waiting two never started: their entries stay pending
    assert await lanes.submit("h:80", gate.start) is Admission.CLOSED
    assert lanes.held == 0


async def test_two_webhooks_on_one_host_share_its_slots_but_not_its_congestion() -> None:
    lanes, failing, healthy = HostLanes(LIMITS), Gate(), Gate()
    for _ in range(3):  # 2 running (the host's slots) + 1 waiting
        assert await lanes.submit("h:80#failing", failing.start) is OK
    lanes.report("h:80#failing", ok=False, latency_s=0.01)
    assert await lanes.submit("h:80#failing", failing.start) is REFUSED  # congested: room 1
    assert not lanes.congested("h:80#healthy")
    for _ in range(3):  # its own room, whatever the other lane's state
        assert await lanes.submit("h:80#healthy", healthy.start) is OK
    await asyncio.sleep(0.01)
    assert failing.running + healthy.running == LIMITS.per_host  # the host's slots, shared
    failing.release.set()
    await asyncio.sleep(0.01)
    # The slots go in turn: to the healthy lane, which waited first, not back to the other.
    assert failing.done == 2 and healthy.running == 2
    healthy.release.set()
    await asyncio.sleep(0.01)
    assert healthy.done == 3 and failing.done == 3 and lanes.held == 0
