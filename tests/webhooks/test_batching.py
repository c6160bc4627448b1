"""Group commit: concurrent submits share writes; a failing batch is retried item by item."""

from __future__ import annotations

import asyncio

import pytest

from zaphubd.errors import DependencyUnavailable
from zaphubd.webhooks.batching import GroupCommit


async def test_concurrent_submits_share_one_write() -> None:
    writes: list[list[int]] = []

    async def write(items: list[int]) -> None:
        writes.append(items)
        await asyncio.sleep(0.01)

    commit = GroupCommit(write, "test")
    await asyncio.gather(*(commit.submit(n) for n in range(50)))
    assert writes == [list(range(50))]
    await asyncio.gather(commit.submit(1), commit.submit(2))
    await commit.close()
    assert len(writes) == 2


async def test_items_arriving_during_a_write_go_in_the_next_one() -> None:
    writes: list[list[int]] = []
    gate = asyncio.Event()

    async def write(items: list[int]) -> None:
        writes.append(items)
        await gate.wait()

    commit = GroupCommit(write, "test", max_batch=3)
    first = asyncio.create_task(commit.submit(0))
    await asyncio.sleep(0.01)
    later = [asyncio.create_task(commit.submit(n)) for n in range(1, 6)]
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(first, *later)
    assert writes == [[0], [1, 2, 3], [4, 5]]


async def test_a_bad_item_fails_alone() -> None:
    async def write(items: list[int]) -> None:
        if 3 in items:
            raise ValueError("three")

    commit = GroupCommit(write, "test")
    results = await asyncio.gather(*(commit.submit(n) for n in range(5)), return_exceptions=True)
    assert [isinstance(r, ValueError) for r in results] == [False, False, False, True, False]


async def test_an_outage_fails_the_whole_batch_at_once() -> None:
    calls = 0

    async def write(items: list[int]) -> None:
        nonlocal calls
        calls += 1
        raise DependencyUnavailable("postgres", "down")

    commit = GroupCommit(write, "test")
    results = await asyncio.gather(*(commit.submit(n) for n in range(5)), return_exceptions=True)
    assert calls == 1 and all(isinstance(r, DependencyUnavailable) for r in results)
    with pytest.raises(DependencyUnavailable):
        await commit.submit(9)
