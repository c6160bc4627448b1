"""The gate and the executor on their own: fairness, cancellation, and Go calls that never
return. (How the transport uses them is in test_neonize_lifecycle.py.)"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from zaphubd.transport.neonize_executor import NeonizeExecutor
from zaphubd.transport.neonize_gate import Gate, GateEvent

# The sync tests below take no loop; the async ones share the neonize tests' session loop.
on_session_loop = pytest.mark.asyncio(loop_scope="session")


async def hold(gate: Gate, mode: str, what: str, release: asyncio.Event, log: list[str]) -> None:
    section = gate.exclusive(what) if mode == "exclusive" else gate.shared(what)
    async with section:
        log.append(f"+{what}")
        await release.wait()
        log.append(f"-{what}")


@on_session_loop
async def test_a_waiting_exclusive_holds_back_later_readers() -> None:
    events: list[GateEvent] = []
    gate = Gate(events.append)
    release = {name: asyncio.Event() for name in ("r1", "w", "r2")}
    log: list[str] = []
    r1 = asyncio.create_task(hold(gate, "shared", "r1", release["r1"], log))
    await asyncio.sleep(0)
    w = asyncio.create_task(hold(gate, "exclusive", "w", release["w"], log))
    await asyncio.sleep(0)
    r2 = asyncio.create_task(hold(gate, "shared", "r2", release["r2"], log))
    await asyncio.sleep(0.01)
    assert log == ["+r1"]  # the writer waits for r1; r2 queues behind the writer
    release["r1"].set()
    await asyncio.sleep(0.01)
    assert log == ["+r1", "-r1", "+w"]
    release["w"].set()
    release["r2"].set()
    await asyncio.gather(r1, w, r2)
    assert log == ["+r1", "-r1", "+w", "-w", "+r2", "-r2"]
    assert [(e.action, e.what) for e in events] == [
        ("grant", "r1"), ("release", "r1"), ("grant", "w"),
        ("release", "w"), ("grant", "r2"), ("release", "r2"),
    ]  # fmt: skip


@on_session_loop
async def test_a_cancelled_waiter_leaves_no_trace() -> None:
    gate = Gate()
    release = asyncio.Event()
    log: list[str] = []
    holder = asyncio.create_task(hold(gate, "exclusive", "a", release, log))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold(gate, "exclusive", "b", asyncio.Event(), log))
    reader = asyncio.create_task(hold(gate, "shared", "c", release, log))
    await asyncio.sleep(0.01)
    waiter.cancel()
    release.set()
    await asyncio.gather(holder, reader, return_exceptions=True)
    assert waiter.cancelled()
    assert log == ["+a", "-a", "+c", "-c"]
    assert (gate.readers, gate.exclusive_held) == (0, False)


def test_executor_runs_calls_and_reports_errors() -> None:
    executor = NeonizeExecutor(4, idle_s=0.1)
    assert executor.submit(lambda x: x * 2, 21).result(timeout=5) == 42
    failing = executor.submit(int, "not a number")
    with pytest.raises(ValueError):
        failing.result(timeout=5)
    assert all(name.startswith("neonize-") for name in _thread_names(executor))
    time.sleep(0.3)
    assert executor.stats().threads == 0  # idle workers leave
    executor.shutdown()


def test_a_call_that_never_returns_does_not_hang_shutdown() -> None:
    forever = threading.Event()
    executor = NeonizeExecutor(2, join_timeout_s=0.2)
    stuck = executor.submit(forever.wait)
    executor.replace_lost_worker()
    assert executor.stats().max_workers == 3 and executor.stats().lost == 1
    assert [executor.submit(int, n).result(timeout=5) for n in range(5)] == list(range(5))
    started = time.monotonic()
    executor.shutdown(wait=True)
    assert time.monotonic() - started < 2
    assert not stuck.done()
    with pytest.raises(RuntimeError):
        executor.submit(print)
    forever.set()


@on_session_loop
async def test_asyncio_accepts_it_as_the_default_executor() -> None:
    loop = asyncio.get_running_loop()
    executor = NeonizeExecutor(2)
    loop.set_default_executor(executor)  # refuses anything but a ThreadPoolExecutor
    name = await asyncio.to_thread(lambda: threading.current_thread().name)
    assert name.startswith("neonize-")


def _thread_names(executor: NeonizeExecutor) -> list[str]:
    return [
        executor.submit(lambda: threading.current_thread().name).result(timeout=5) for _ in range(3)
    ]
