"""Accepting a send: the row and its event (the messages table is the send queue), then a
wake-up for the lane of the node that runs the session.

The order of checks is the API's: the session exists (404), the body is valid (the caller's
part, 400), the session may send (409), then idempotency (a repeated messageId is the message
already accepted). The accept statement checks all of it at once on the fast path; only when
it inserts nothing does `accept` pay the reads that tell the cases apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from zaphubd.db.message_batches import NewOutbound
from zaphubd.db.messages import MessageRepo, MessageRow
from zaphubd.db.sessions import SessionRepo, SessionRow
from zaphubd.errors import SessionNotReady
from zaphubd.eventsink import EventSink
from zaphubd.sessions.commands import require_sendable, require_visible

#: Tells the session's lane, wherever it runs, that a send waits (best effort, never raises).
Wake = Callable[[uuid.UUID], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A validated send, as the API parsed it."""

    session_id: uuid.UUID
    message_id: str
    type: str
    to: str
    content: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Accepted:
    row: MessageRow
    #: False when the messageId was accepted before: `row` is that message, nothing is sent.
    new: bool


class SendIntake:
    def __init__(
        self,
        messages: MessageRepo,
        sessions: SessionRepo,
        sink: EventSink,
        wake: Wake,
        new_wa_id: Callable[[], str] | None,
    ) -> None:
        self._messages = messages
        self._sessions = sessions
        self._sink = sink
        self._wake = wake
        #: The transport's id generator when it honours caller-chosen ids (exactly-once).
        self._new_wa_id = new_wa_id

    async def check(self, session_id: uuid.UUID) -> SessionRow:
        """404 for an unknown or deleted session, 409 for one that cannot send."""
        row = require_visible(await self._sessions.get(session_id), session_id)
        require_sendable(row)
        return row

    async def accept(self, send: SendRequest) -> Accepted:
        new = NewOutbound(
            session_id=send.session_id,
            message_id=send.message_id,
            type=send.type,
            to_jid=send.to,
            content=send.content,
            metadata=send.metadata,
            wa_message_id=self._new_wa_id() if self._new_wa_id else None,
        )
        accepted = await self._messages.enqueue(new)
        if accepted is None:
            return await self._not_inserted(send)
        row, event = accepted
        await self._sink.notify(event)
        await self._wake(send.session_id)
        return Accepted(row, new=True)

    async def _not_inserted(self, send: SendRequest) -> Accepted:
        await self.check(send.session_id)
        existing = await self._messages.by_client_id(send.session_id, send.message_id)
        if existing is None:  # the session changed state between the two statements
            raise SessionNotReady("the session cannot send right now; try again")
        return Accepted(existing, new=False)
