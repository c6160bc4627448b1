"""The loop shared by the sweepers that re-publish jobs a row says should exist.

Rows are written before their jobs are published (the outbox pattern); a sweep finds rows
whose job was lost (Redis down at publish time, or the process died in between) and
publishes them again. While a dependency is down a round is skipped, never the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from zaphubd.errors import DependencyUnavailable


async def sweep_forever(
    sweep_once: Callable[[], Awaitable[int]],
    *,
    interval_s: float,
    what: str,
    log: logging.Logger,
) -> None:
    """Call `sweep_once` every `interval_s`; it returns how many jobs it re-published."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            republished = await sweep_once()
        except DependencyUnavailable as err:
            log.warning("%s sweep skipped: %s", what, err)
            continue
        if republished:
            log.warning("%s: re-published %d job(s) that had no queue entry", what, republished)
