"""cancel_and_wait against a task that swallows its cancellation, as redis-py's commands can
on Python 3.11 (asyncio.wait_for)."""

from __future__ import annotations

import asyncio

from zaphubd.tasks import cancel_and_wait


async def test_a_task_that_swallows_cancellations_is_cancelled_again_until_it_ends() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(30)  # a blocking read that outlives any test
            except asyncio.CancelledError:
                if swallowed == 3:
                    raise
                swallowed += 1
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task), timeout=10)
    assert task.cancelled()
    assert swallowed == 3
