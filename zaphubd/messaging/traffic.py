"""What a session's client reports besides its own lifecycle: into the durable queues.

Runs inside the transport's event callback, so it only does what must happen before the
transport may consider the event handled: put it on its queue (durable), or for group changes
write the event. Incoming calls are rejected here when the session's `rejectCalls` asks for it,
while the call is still ringing.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter

from zaphubd.db.lid_map import LidMap
from zaphubd.eventsink import EventSink
from zaphubd.messaging.inbound import receive_failed
from zaphubd.messaging.wire import to_job
from zaphubd.queue import keys
from zaphubd.queue.producer import Publisher
from zaphubd.sessions.manager import SessionManager
from zaphubd.transport.events import (
    Call,
    ChatPresence,
    GroupChange,
    HistorySync,
    MessageIn,
    MessageUnreadable,
    Presence,
    Receipt,
    TransportEvent,
)

log = logging.getLogger("zaphubd.messaging.traffic")
HISTORY_BATCH = 500


class TrafficRouter:
    def __init__(
        self,
        publisher: Publisher,
        sink: EventSink,
        manager: SessionManager,
        inbound_outcomes: Counter,
        lids: LidMap,
    ) -> None:
        self._publisher = publisher
        self._sink = sink
        self._manager = manager
        self._outcomes = inbound_outcomes
        self._lids = lids
        self._routes: dict[type, Callable[[uuid.UUID, Any], Awaitable[None]]] = {}

    def route(self, kind: type, handler: Callable[[uuid.UUID, Any], Awaitable[None]]) -> None:
        """Hand the events of `kind` to `handler` (a feature module's, e.g. chat settings)."""
        self._routes[kind] = handler

    async def __call__(self, session_id: uuid.UUID, event: TransportEvent) -> None:
        routed = self._routes.get(type(event))
        if routed is not None:
            await routed(session_id, event)
        elif isinstance(event, MessageIn):
            await self._publisher.publish(keys.MESSAGE_RECEIVE, to_job(session_id, event))
            await self._sink.emit(
                session_id,
                "message.receive.queued",
                {"messageId": event.id, "from": event.sender},
            )
        elif isinstance(event, MessageUnreadable):
            await self._unreadable(session_id, event)
        elif isinstance(event, HistorySync):
            await self._history(session_id, event)
        elif isinstance(event, Receipt):
            await self._publisher.publish(keys.RECEIPT_EVENTS, to_job(session_id, event))
        elif isinstance(event, Presence | ChatPresence):
            await self._publisher.publish(keys.PRESENCE_EVENTS, to_job(session_id, event))
        elif isinstance(event, Call):
            await self._on_call(session_id, event)
        elif isinstance(event, GroupChange):
            await self._on_group(session_id, event)

    async def _history(self, session_id: uuid.UUID, sync: HistorySync) -> None:
        """A history chunk: its mappings learned, its messages queued to be stored like any
        other (durably, in order), and one event that says how much came."""
        for lid, phone in sync.lid_mappings:
            await self._lids.learn(session_id, lid, phone)
        jobs = [(None, to_job(session_id, m)) for m in sync.messages]
        for start in range(0, len(jobs), HISTORY_BATCH):
            await self._publisher.publish_many(
                keys.MESSAGE_RECEIVE, jobs[start : start + HISTORY_BATCH]
            )
        payload = {"conversations": sync.conversations, "messages": len(sync.messages)}
        await self._sink.emit(session_id, "session.history_synced", payload)

    async def _phones_for_lids(self, session_id: uuid.UUID, change: GroupChange) -> GroupChange:
        """Participants and author by phone JID where the session knows their LID's."""
        participants = [
            (await self._lids.resolve(session_id, p))[0] or p for p in change.participants
        ]
        by = (await self._lids.resolve(session_id, change.by))[0] if change.by else change.by
        return dataclasses.replace(change, participants=tuple(participants), by=by)

    async def _unreadable(self, session_id: uuid.UUID, event: MessageUnreadable) -> None:
        """Recorded where an operator looks (events, webhooks, the log, /metrics): a message
        that reached the account must never vanish without a trace."""
        log.warning(
            "session %s: inbound message %s from %s not readable (%s): %s",
            session_id,
            event.id,
            event.sender,
            event.reason,
            event.detail,
        )
        self._outcomes.labels(event.reason).inc()
        payload = receive_failed(event.id, event.sender, event.chat, event.reason, event.detail)
        await self._sink.emit(session_id, "message.receive.failed", payload)

    async def _on_call(self, session_id: uuid.UUID, call: Call) -> None:
        job = to_job(session_id, call)
        config = self._manager.config(session_id)
        if call.action == "offer" and config is not None and config.reject_calls:
            job["rejected_by_us"] = await self._reject(session_id, call)
        await self._publisher.publish(keys.CALL_EVENTS, job)

    async def _reject(self, session_id: uuid.UUID, call: Call) -> bool:
        client = self._manager.connected_client(session_id)
        if client is None:
            return False
        try:
            await client.reject_call(call.caller, call.call_id)
        except Exception as err:
            log.warning("session %s: could not reject call %s: %s", session_id, call.call_id, err)
            return False
        return True

    async def _on_group(self, session_id: uuid.UUID, change: GroupChange) -> None:
        change = await self._phones_for_lids(session_id, change)
        if change.action in ("add", "remove", "promote", "demote"):
            await self._sink.emit(
                session_id,
                f"group.participants.{change.action}",
                {
                    "groupId": change.group,
                    "participants": list(change.participants),
                    "by": change.by,
                },
            )
        elif change.action == "joined":
            await self._sink.emit(
                session_id,
                "group.joined",
                {"groupId": change.group, "subject": change.subject, "by": change.by},
            )
        else:
            payload = {
                "groupId": change.group,
                "subject": change.subject,
                "by": change.by,
                "details": change.details,
            }
            await self._sink.emit(session_id, "group.update", payload)
