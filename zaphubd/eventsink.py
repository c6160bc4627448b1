"""Where every event goes: the events table first, then the listeners (webhooks).

Emitters name an event from `event_types.CATALOGUE`; anything else is a programming error.
Listeners run after the row is written; a listener that fails is logged and does not stop the
others or the emitter.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from zaphubd.db.events import EventRepo, EventRow
from zaphubd.event_types import lookup

log = logging.getLogger("zaphubd.events")

Listener = Callable[[EventRow], Awaitable[None]]


class EventSink:
    def __init__(self, repo: EventRepo) -> None:
        self.repo = repo
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def emit(
        self, session_id: uuid.UUID | None, event_type: str, payload: dict[str, Any]
    ) -> EventRow:
        kind = lookup(event_type)
        row = await self.repo.insert(session_id, kind.name, kind.category, payload)
        await self.notify(row)
        return row

    async def notify(self, row: EventRow) -> None:
        """Hand an already written event to the listeners (hot paths insert events in their
        own statements)."""
        for listener in self._listeners:
            try:
                await listener(row)
            except Exception:
                log.exception(
                    "event listener failed for %s (session %s)", row.event_type, row.session_id
                )
