"""Group commit: callers submit one item each and wait; one write handles everything pending.

While a write is in flight, new items gather for the next one, so a burst costs a few round
trips instead of one per item, and a lone item waits for nothing but its own write. A batch
that fails is retried item by item, so one bad item (a row whose session was just deleted)
does not fail the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from zaphubd.errors import DependencyUnavailable

T = TypeVar("T")
log = logging.getLogger("zaphubd.webhooks")


class GroupCommit(Generic[T]):
    def __init__(
        self, write: Callable[[list[T]], Awaitable[None]], name: str, max_batch: int = 500
    ) -> None:
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Return once `item` is written; raise what its write raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name=f"group-commit:{self._name}")
        await future

    async def close(self) -> None:
        """Let the write in flight (and what waits behind it) finish."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # let the submitters of this loop iteration join the batch
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._write_batch(batch)
        finally:
            self._task = None

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await self._write([item for item, _ in batch])
        except Exception as err:
            if len(batch) == 1 or isinstance(err, DependencyUnavailable):
                for _, future in batch:
                    _settle(future, err)
                return
            log.warning(
                "%s: a batch of %d failed (%s); writing one by one", self._name, len(batch), err
            )
            for entry in batch:
                await self._write_batch([entry])
            return
        for _, future in batch:
            _settle(future, None)


def _settle(future: asyncio.Future[None], err: BaseException | None) -> None:
    if future.done():
        return  # its submitter was cancelled; the item was written (or tried) all the same
    if err is None:
        future.set_result(None)
    else:
        future.set_exception(err)
