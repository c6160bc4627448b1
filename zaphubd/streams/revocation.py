"""Open streams stop when their key is revoked, as the key's requests do.

One check per node for every key that holds streams (one query each round), rather than one
per stream: with many streams open, the cost stays one query per `interval_s`.
"""

from __future__ import annotations

import asyncio
import logging

from zaphubd.db.api_keys import ApiKeyRepo
from zaphubd.streams.hub import EventHub

log = logging.getLogger("zaphubd.streams")


async def end_revoked_streams(hub: EventHub, keys: ApiKeyRepo, *, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        holders = hub.session_keys()
        if not holders:
            continue
        try:
            revoked = holders - await keys.live_of(holders)
        except Exception as err:  # Postgres away: the streams themselves notice; ask again
            log.warning("event stream: checking the keys of open streams failed: %s", err)
            continue
        hub.end_streams_of(revoked)
