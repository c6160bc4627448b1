"""Consumers of the inbound queues: message-receive, receipt-events, presence-events, call-events.

Each handler is idempotent (a redelivered job changes nothing and emits nothing twice where
the store can tell): messages dedupe on the WhatsApp id, receipts only move statuses forward,
calls upsert on the call id. A session's messages, receipts and calls are handled in the
order they arrived (stored and emitted in that order), while sessions run in parallel.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from prometheus_client import Counter

from zaphubd import jid
from zaphubd.db.calls import CallRepo
from zaphubd.db.lid_map import LidMap
from zaphubd.db.message_amends import MessageAmends
from zaphubd.db.message_batches import ReceiptUpdate
from zaphubd.db.messages import MessageRepo
from zaphubd.event_types import EventType, lookup
from zaphubd.eventsink import EventSink
from zaphubd.messaging.amend import AMENDING, amend_received
from zaphubd.messaging.wire import from_job
from zaphubd.ordering import KeyedOrder
from zaphubd.queue.job import Job, Reject
from zaphubd.transport.events import Call, ChatPresence, MessageIn, Presence, Receipt

log = logging.getLogger("zaphubd.messaging.inbound")

#: Inbound types that point at another message, and the event each becomes.
_ABOUT_ANOTHER = {
    "reaction": "message.reaction",
    "edit": "message.edited",
    "revoke": "message.revoked",
}


def receive_failed(
    message_id: str, sender: str, chat: str, reason: str, detail: str
) -> dict[str, Any]:
    """The payload of `message.receive.failed` (never the message's body)."""
    return {
        "messageId": message_id,
        "from": sender,
        "chatId": chat,
        "reason": reason,
        "detail": detail,
    }


def _with_lid(payload: dict[str, Any], lid: str | None) -> dict[str, Any]:
    return payload | {"lid": lid} if lid else payload


def _lid_and_phone(sender: str, alt: str | None) -> tuple[str | None, str | None]:
    """(LID, phone JID) of a sender, each None when not given."""
    if jid.is_lid(sender):
        return sender, alt if jid.is_user(alt) else None
    if jid.is_lid(alt):
        return alt, sender if jid.is_user(sender) else None
    return None, None


#: Told of every inbound message with media (session, WhatsApp id), new or redelivered (a
#: crash may have come between storing it and this call): `media_keeper.MediaKeeper.offer`.
OnMedia = Callable[[uuid.UUID, str], Awaitable[None]]


def media_url(session_id: uuid.UUID, message_id: str) -> str:
    return f"/api/v1/sessions/{session_id}/messages/{quote(message_id, safe='')}/media"


def _decode(job: Job) -> tuple[uuid.UUID, Any]:
    try:
        return from_job(job.data)
    except (KeyError, ValueError, TypeError) as err:
        raise Reject(f"malformed {job.queue} job: {err}") from err


class InboundHandlers:
    def __init__(
        self,
        messages: MessageRepo,
        calls: CallRepo,
        sink: EventSink,
        outcomes: Counter,
        lids: LidMap,
        amends: MessageAmends,
        on_media: OnMedia | None = None,
        public_url: str = "",
    ) -> None:
        self._on_media = on_media
        self._public_url = public_url
        self._messages = messages
        self._amends = amends
        self._calls = calls
        self._sink = sink
        self._outcomes = outcomes
        self._lids = lids
        self._order = KeyedOrder()

    async def message(self, job: Job) -> None:
        session_id, event = _decode(job)
        assert isinstance(event, MessageIn)
        async with self._order.turn(("message", session_id)):
            await self._message(session_id, event)

    async def _message(self, session_id: uuid.UUID, event: MessageIn) -> None:
        if event.history:
            await self._history(session_id, event)
            return
        if event.from_me:
            await self._from_phone(session_id, event)
            return
        event, lid = await self._identify(session_id, event)
        values = _inbound_values(session_id, event)
        if event.type in _ABOUT_ANOTHER:
            kind, payload = lookup(_ABOUT_ANOTHER[event.type]), _about_payload(event)
            if event.type in AMENDING:  # the stored original changes first (idempotent)
                payload |= await amend_received(self._amends, session_id, event)
        else:
            kind, payload = lookup("message.received"), received_payload(values, event)
            if event.media is not None:
                payload["mediaUrl"] = self._public_url + media_url(session_id, event.id)
        if lid is not None:
            payload["lid"] = values["metadata"]["lid"] = lid
        await self._store(values, kind, payload)
        if event.media is not None and self._on_media is not None:
            await self._on_media(session_id, event.id)

    async def _identify(
        self, session_id: uuid.UUID, event: MessageIn
    ) -> tuple[MessageIn, str | None]:
        """The message with its sender (and a one-to-one chat) as the phone JID whenever
        that is known, and the contact's LID when it writes from one. A message that brings
        both teaches the mapping, for the messages that came (and will come) from the LID
        alone."""
        lid, phone = _lid_and_phone(event.sender, event.sender_alt)
        if lid is None:
            return event, None
        if phone is not None:
            if await self._lids.learn(session_id, lid, phone):
                payload = {"lid": lid, "phone": phone}
                await self._sink.emit(session_id, "contact.lid_mapped", payload)
        else:
            phone = await self._lids.phone_of(session_id, lid)
        if phone is None:
            return event, lid
        chat = phone if event.chat == lid else event.chat
        return dataclasses.replace(event, sender=phone, chat=chat, sender_alt=lid), lid

    async def _to_chat(
        self, session_id: uuid.UUID, event: MessageIn
    ) -> tuple[MessageIn, str | None]:
        """A message the account sent, with a one-to-one chat held by a LID shown as the
        contact's phone JID when that is known; and the LID."""
        chat, lid = await self._lids.resolve(session_id, event.chat)
        return (dataclasses.replace(event, chat=chat) if chat else event), lid

    async def _history(self, session_id: uuid.UUID, event: MessageIn) -> None:
        """A message from before this device was linked: stored as it was (received, or
        sent from the phone), with no event: a history sync is not news."""
        if event.from_me:
            event, lid = await self._to_chat(session_id, event)
        else:
            event, lid = await self._identify(session_id, event)
        values = _inbound_values(session_id, event)
        values["metadata"] = {**values["metadata"], "history": True}
        if lid is not None:
            values["metadata"]["lid"] = lid
        if event.from_me:
            values |= {"direction": "outbound", "status": "sent", "sent_at": event.timestamp}
        stored = await self._messages.insert_history(values)
        self._outcomes.labels("history" if stored else "duplicate").inc()

    async def _from_phone(self, session_id: uuid.UUID, event: MessageIn) -> None:
        """A message the account sent from the phone: stored as outbound `sent`; an edit or
        revoke from the phone changes the stored original too."""
        event, lid = await self._to_chat(session_id, event)
        if event.type in AMENDING:
            await amend_received(self._amends, session_id, event)
        values = _inbound_values(session_id, event) | {
            "direction": "outbound",
            "status": "sent",
            "to_jid": event.chat,
            "sent_at": event.timestamp,
        }
        payload = {
            "id": values["id"],
            "messageId": event.id,
            "to": event.chat,
            "wa_message_id": event.id,
            "timestamp": event.timestamp,
            "fromPhone": True,
        }
        if lid is not None:
            payload["lid"] = values["metadata"]["lid"] = lid
        await self._store(values, lookup("message.sent"), payload)

    async def _store(
        self, values: dict[str, Any], kind: EventType, payload: dict[str, Any]
    ) -> None:
        """The message and its event in one statement (None: seen before), then listeners."""
        event = await self._messages.insert_inbound(values, kind, payload)
        self._outcomes.labels("stored" if event is not None else "duplicate").inc()
        if event is not None:
            await self._sink.notify(event)

    async def message_dead(self, job: Job, reason: str) -> None:
        """A message the queue gave up storing (after every retry): recorded, not lost
        without a word; the dead-letter stream keeps the job itself."""
        try:
            session_id, event = from_job(job.data)
        except (KeyError, ValueError, TypeError):
            return  # malformed: the consumer logged it and keeps the raw entry
        assert isinstance(event, MessageIn)
        self._outcomes.labels("store_failed").inc()
        payload = receive_failed(event.id, event.sender, event.chat, "store_failed", reason)
        await self._sink.emit(session_id, "message.receive.failed", payload)

    async def receipt(self, job: Job) -> None:
        session_id, event = _decode(job)
        assert isinstance(event, Receipt)
        async with self._order.turn(("receipt", session_id)):
            await self._receipt(session_id, event)

    async def _receipt(self, session_id: uuid.UUID, event: Receipt) -> None:
        """Messages that moved forward get their event (in the same statement); unknown ids
        and messages already at this status or beyond have nothing new to tell."""
        chat, lid = await self._lids.resolve(session_id, event.chat)
        participant, participant_lid = await self._lids.resolve(session_id, event.participant)
        update = ReceiptUpdate(
            session_id,
            event.message_ids,
            "delivered" if event.type == "delivered" else "read",
            event.timestamp,
            chat or event.chat,
            participant,
            lid or participant_lid,
        )
        for row in await self._messages.apply_receipt(update):
            await self._sink.notify(row)

    async def presence(self, job: Job) -> None:
        session_id, event = _decode(job)
        if isinstance(event, Presence):
            shown, lid = await self._lids.resolve(session_id, event.jid)
            payload = {"jid": shown, "available": event.available, "lastSeen": event.last_seen}
            await self._sink.emit(session_id, "presence.update", _with_lid(payload, lid))
        elif isinstance(event, ChatPresence):
            sender, lid = await self._lids.resolve(session_id, event.sender)
            chat = sender if event.chat == lid else event.chat
            payload = {"chatId": chat, "from": sender, "state": event.state}
            await self._sink.emit(session_id, "chat.presence", _with_lid(payload, lid))

    async def call(self, job: Job) -> None:
        session_id, event = _decode(job)
        assert isinstance(event, Call)
        async with self._order.turn(("call", session_id)):
            await self._call(session_id, event, bool(job.data.get("rejected_by_us")))

    async def _call(self, session_id: uuid.UUID, event: Call, rejected: bool) -> None:
        caller, lid = await self._lids.resolve(session_id, event.caller)
        event = dataclasses.replace(event, caller=caller or event.caller)
        await self._calls.record(
            session_id,
            event.call_id,
            event.caller,
            event.action,
            event.timestamp,
            is_video=event.is_video,
            is_group=event.is_group,
            rejected_by_us=rejected,
        )
        payload = {
            "callId": event.call_id,
            "from": event.caller,
            "isVideo": event.is_video,
            "isGroup": event.is_group,
            "timestamp": event.timestamp,
            "reason": event.reason,
        }
        payload = _with_lid(payload, lid)
        await self._sink.emit(session_id, f"call.{event.action}", payload)
        if rejected:
            payload = payload | {"reason": "rejected automatically (rejectCalls)"}
            await self._sink.emit(session_id, "call.reject", payload)


def _inbound_values(session_id: uuid.UUID, event: MessageIn) -> dict[str, Any]:
    content = dict(event.content)
    if event.media is not None:
        content["url"] = media_url(session_id, event.id)
        content["_media"] = dataclasses.asdict(event.media)  # for the download route only
    if event.quoted_id:
        content["quoted"] = event.quoted_id
    if event.mentions:
        content["mentions"] = list(event.mentions)
    return {
        "id": uuid.uuid4(),
        "session_id": session_id,
        "message_id": event.id,
        "direction": "inbound",
        "type": event.type,
        "to_jid": event.chat,
        "from_jid": event.sender,
        "chat_jid": event.chat,
        "status": "delivered",
        "content": content,
        "metadata": {
            k: v
            for k, v in (
                ("pushName", event.push_name),
                ("senderAlt", event.sender_alt),
                ("forwarded", event.forwarded),
            )
            if v
        },
        "wa_message_id": event.id,
        "wa_timestamp": event.timestamp,
        "delivered_at": event.timestamp,
    }


def public_content(content: dict[str, Any]) -> dict[str, Any]:
    """Content as the API shows it: no internal keys, no base64 payloads."""
    shown = {k: v for k, v in content.items() if not k.startswith("_") and k != "data"}
    if "data" in content:
        shown["dataLength"] = len(content["data"])
    return shown


def received_payload(values: dict[str, Any], event: MessageIn) -> dict[str, Any]:
    """The message.received payload of the row `_inbound_values` describes."""
    payload: dict[str, Any] = {
        "messageId": event.id,
        "id": values["id"],
        "from": event.sender,
        "chatId": event.chat,
        "type": event.type,
        "content": public_content(values["content"]),
        "timestamp": int(event.timestamp.timestamp()),
        "isGroup": event.is_group,
    }
    for key, value in (
        ("participant", event.sender if event.is_group else None),
        ("senderAlt", event.sender_alt),
        ("pushName", event.push_name),
        ("quoted", event.quoted_id),
        ("forwarded", event.forwarded),
    ):
        if value:
            payload[key] = value
    return payload


def _about_payload(event: MessageIn) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "messageId": event.id,
        "targetId": event.content.get("messageId"),
        "from": event.sender,
        "chatId": event.chat,
    }
    if event.type == "reaction":
        payload["emoji"] = event.content.get("emoji", "")
    elif event.type == "edit":
        payload["text"] = event.content.get("text", "")
    elif event.type == "revoke" and event.content.get("participant"):
        payload["participant"] = event.content["participant"]
    return payload
