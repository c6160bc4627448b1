"""Background tasks that are named, referenced, logged when they crash, and cancellable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("zaphubd.tasks")
#: How long to wait for a cancelled task before cancelling it again (see cancel_and_wait):
#: the first wait is short, since a swallowed cancellation leaves the task blocked on its
#: next command (a blocking read can last seconds); each later wait doubles, up to the cap.
RECANCEL_FIRST_S = 0.05
RECANCEL_MAX_S = 1.0


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has ended, cancelling again while it goes on.

    On Python 3.11, asyncio.wait_for can swallow a cancellation that arrives just as the
    future it waits on completes (fixed in 3.12). redis-py sends every command through
    wait_for, so a loop cancelled in the middle of a command may carry on as if nothing
    happened, and a plain `await task` after `cancel()` then waits forever.
    """
    wait_s = RECANCEL_FIRST_S
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=wait_s)
        wait_s = min(wait_s * 2, RECANCEL_MAX_S)


class TaskGroup:
    """Keeps a reference to each task (so none is garbage-collected mid-flight) by name."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        if name in self._tasks and not self._tasks[name].done():
            coro.close()
            raise RuntimeError(f"{self._owner}: task {name!r} is already running")
        task = asyncio.create_task(coro, name=f"{self._owner}:{name}")
        task.add_done_callback(self._report)
        self._tasks[name] = task
        return task

    def _report(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        err = task.exception()
        if err is not None:
            log.error("background task %s crashed", task.get_name(), exc_info=err)

    def running(self, name: str) -> bool:
        task = self._tasks.get(name)
        return task is not None and not task.done()

    async def cancel(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            await cancel_and_wait(task)  # its error, if any, is logged by _report

    async def cancel_all(self) -> None:
        for name in list(self._tasks):
            await self.cancel(name)
