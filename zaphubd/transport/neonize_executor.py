"""The event loop's default executor while the neonize transport runs (NEONIZE.md, hazard 3).

neonize runs every Go call through `asyncio.to_thread`, and a connected client's `connect()`
pins one of those threads for the whole life of the connection. The stock pool has
`min(32, cpus + 4)` threads, so a few sessions starve everything else that uses the executor;
this one is sized for the session cap plus headroom.

It is a `ThreadPoolExecutor` (asyncio accepts nothing else as the default executor) whose
`submit` and `shutdown` are our own, for two reasons the stock class cannot meet:
- a Go call may never return: by goneonize's source, a client stopped while it shows QR
  codes stays blocked in a QR loop whose channel whatsmeow never closes after a requested
  disconnect, and one whose QR codes ran out waits forever for a login (not observable
  offline). The stock pool joins every worker at interpreter exit and in `asyncio.run`'s
  shutdown, which would then hang. Our workers are daemon threads, and `shutdown(wait=True)`
  joins them only up to a deadline;
- such a worker is lost for good: `replace_lost_worker()` raises the cap by one so the pool
  keeps its capacity.
Idle workers exit after `idle_s`, so the thread count follows the load.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger("zaphubd.transport.neonize")

T = TypeVar("T")
#: Threads beyond one per session: sends, uploads, downloads, stops, DNS lookups of aiohttp...
HEADROOM = 32


@dataclass(frozen=True, slots=True)
class ExecutorStats:
    threads: int
    idle: int
    queued: int
    max_workers: int
    lost: int


@dataclass(slots=True)
class _WorkItem:
    future: Future[Any]
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # the caller gets it through the future, as stock pools do
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)


class NeonizeExecutor(ThreadPoolExecutor):
    """A thread pool of daemon workers that tolerates calls that never return."""

    def __init__(
        self, max_workers: int, *, idle_s: float = 60.0, join_timeout_s: float = 2.0
    ) -> None:
        # The base initialiser only sets up attributes we never use; no thread starts there.
        super().__init__(max_workers=max_workers, thread_name_prefix="neonize")
        self._cap = max_workers
        self._idle_s = idle_s
        self._join_timeout_s = join_timeout_s
        self._cond = threading.Condition()
        self._queue: deque[_WorkItem] = deque()
        self._workers: set[threading.Thread] = set()
        self._idle = 0
        self._lost = 0
        self._closed = False
        self._names = itertools.count()

    @classmethod
    def for_sessions(cls, max_sessions: int) -> NeonizeExecutor:
        return cls(max_sessions + HEADROOM)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._queue.append(_WorkItem(future, fn, args, kwargs))
            if self._idle >= len(self._queue):
                self._cond.notify()
            elif len(self._workers) < self._cap:
                self._spawn()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._cond:
            self._closed = True
            if cancel_futures:
                while self._queue:
                    self._queue.popleft().future.cancel()
            self._cond.notify_all()
            workers = list(self._workers)
        if wait:
            self._join(workers)

    def replace_lost_worker(self) -> None:
        """A worker is stuck in Go for good: allow one more so capacity stays the same."""
        with self._cond:
            self._cap += 1
            self._lost += 1

    def stats(self) -> ExecutorStats:
        with self._cond:
            return ExecutorStats(
                len(self._workers), self._idle, len(self._queue), self._cap, self._lost
            )

    def _spawn(self) -> None:
        name = f"neonize-{next(self._names)}"
        thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._workers.add(thread)
        thread.start()

    def _work(self) -> None:
        while (item := self._next_item()) is not None:
            item.run()
            del item  # drop the result and arguments before waiting again

    def _next_item(self) -> _WorkItem | None:
        me = threading.current_thread()
        with self._cond:
            self._idle += 1
            try:
                while not self._queue:
                    if self._closed or (not self._cond.wait(self._idle_s) and not self._queue):
                        self._workers.discard(me)
                        return None
                return self._queue.popleft()
            finally:
                self._idle -= 1

    def _join(self, workers: list[threading.Thread]) -> None:
        deadline = time.monotonic() + self._join_timeout_s
        stuck = 0
        for thread in workers:
            thread.join(max(0.0, deadline - time.monotonic()))
            stuck += thread.is_alive()
        if stuck:
            log.warning("neonize executor: %d thread(s) still inside Go at shutdown", stuck)
