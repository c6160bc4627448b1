"""The stream hub while Postgres is away: it keeps polling, and says so once, not per poll."""

from __future__ import annotations

import asyncio
import logging

import pytest

from zaphubd.db.database import Database
from zaphubd.db.event_feed import EventFeed
from zaphubd.streams.hub import EventHub, StreamFilter


async def test_an_outage_is_logged_once_while_it_lasts(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = await Database.connect(pg_url, min_size=1, max_size=2)
    hub = EventHub(EventFeed(db), poll_s=0.02)
    await hub.subscribe(StreamFilter(None, None), capacity=10)
    caplog.set_level(logging.DEBUG, logger="zaphubd.streams")
    await db.close()  # every read fails from now on, as with Postgres gone
    await asyncio.sleep(0.3)  # about fifteen polls
    await hub.close()
    failures = [r for r in caplog.records if "reading the events table failed" in r.message]
    assert len(failures) > 3  # it kept trying
    assert [r.levelno for r in failures].count(logging.WARNING) == 1
