"""Exponential backoff with jitter, shared by the queue, the supervisor, webhooks and startup."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from zaphubd.errors import DependencyUnavailable

T = TypeVar("T")
log = logging.getLogger("zaphubd.startup")


def backoff_delay(
    attempt: int, base_s: float, cap_s: float, jitter: float = 0.2, rng: random.Random | None = None
) -> float:
    """`base_s * 2**attempt`, capped, spread by +/- `jitter` (a fraction) so peers desync.

    `attempt` counts from 0: the first retry waits about `base_s`.
    """
    raw = float(min(cap_s, base_s * (2.0 ** min(attempt, 62))))
    spread = raw * jitter
    return max(0.0, raw + (rng or random).uniform(-spread, spread))


async def retry_until_deadline(
    connect: Callable[[], Awaitable[T]],
    dependency: str,
    timeout_s: float,
    retry_on: tuple[type[BaseException], ...],
) -> T:
    """Call `connect` until it succeeds or `timeout_s` passed; then DependencyUnavailable.

    Used at startup so a daemon that starts before its database waits for it a while,
    with one WARNING line per failed attempt, instead of dying at once.
    """
    deadline = time.monotonic() + timeout_s
    attempt = 0
    while True:
        try:
            return await connect()
        except retry_on as err:
            reason = str(err) or type(err).__name__
            if time.monotonic() >= deadline:
                raise DependencyUnavailable(dependency, reason) from err
            delay = min(backoff_delay(attempt, 0.5, 5.0), max(0.0, deadline - time.monotonic()))
            log.warning(
                "%s is not reachable yet (%s); retrying in %.1fs", dependency, reason, delay
            )
            attempt += 1
            await asyncio.sleep(delay)
