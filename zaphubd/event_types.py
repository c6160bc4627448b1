"""The catalogue of every event zaphubd emits: the one table emitters and the API share.

`EventSink.emit` refuses a name that is not here, and `GET /api/v1/webhook/events` serves this
table, so the catalogue cannot drift from what the code sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    description: str
    payload: MappingProxyType[str, str]

    @property
    def category(self) -> str:
        return self.name.split(".", 1)[0]


def _event(name: str, description: str, **payload: str) -> EventType:
    # `from_` spells the payload field `from` (a Python keyword) in these calls.
    fields = {key.rstrip("_"): kind for key, kind in payload.items()}
    return EventType(name, description, MappingProxyType(fields))


_ALL = (
    # Sessions
    _event("session.initializing", "the session was created or restarted and is starting"),
    _event(
        "session.qr_generated",
        "a new QR code is ready to scan",
        qr_code="string",
        expires_at="datetime",
    ),
    _event("session.pair_code", "a pairing code was issued", pairing_code="string", phone="string"),
    _event(
        "session.connected",
        "the account is logged in and connected",
        phone_number="string",
        push_name="string?",
    ),
    _event("session.disconnected", "the connection ended", reason="string", detail="string?"),
    _event(
        "session.reconnecting",
        "the supervisor will reconnect after a delay",
        attempt="integer",
        delay_s="number",
        reason="string",
    ),
    _event(
        "session.failed",
        "the session gave up reconnecting or cannot run",
        reason="string",
        attempts="integer",
    ),
    _event("session.logged_out", "the device was removed; credentials deleted", reason="string"),
    _event(
        "session.history_synced",
        "WhatsApp handed over past messages (one chunk): they are stored, without "
        "message.received events",
        conversations="integer",
        messages="integer",
    ),
    _event(
        "session.logout_failed",
        "a deletion's logout was not confirmed: the session is kept, failed (delete again "
        "with ?force=true once the device is removed on the phone)",
        reason="string",
    ),
    _event("session.stopped", "the session was stopped on request", reason="string"),
    _event("session.start_failed", "the session could not be started", reason="string"),
    # Messages
    _event(
        "message.send.queued",
        "a send was accepted and queued",
        id="uuid",
        messageId="string",
        to="jid",
        type="string",
    ),
    _event(
        "message.sent",
        "WhatsApp accepted a message we sent (or one sent from the phone: `fromPhone`)",
        id="uuid",
        messageId="string",
        to="jid",
        wa_message_id="string",
        timestamp="datetime",
        fromPhone="boolean?",
        lid="jid?",
    ),
    _event(
        "message.failed",
        "a send attempt failed and will be retried",
        id="uuid",
        messageId="string",
        attempt="integer",
        error="string",
    ),
    _event(
        "message.moved_to_dlq",
        "a send gave up; error_message says why",
        id="uuid",
        messageId="string",
        attempts="integer",
        error="string",
    ),
    _event(
        "message.receive.queued",
        "an inbound message was received and queued for storage",
        messageId="string",
        from_="jid",
    ),
    _event(
        "message.receive.failed",
        "an inbound message could not be stored or read; reason says why "
        "(undecryptable, unsupported, store_failed)",
        messageId="string",
        from_="jid",
        chatId="jid",
        reason="string",
        detail="string",
    ),
    _event(
        "message.received",
        "a message arrived (content per type: docs/webhooks.md)",
        messageId="string",
        id="uuid",
        from_="jid",
        chatId="jid",
        participant="jid?",
        pushName="string?",
        type="string",
        content="object",
        timestamp="integer",
        isGroup="boolean",
        quoted="string?",
        forwarded="boolean?",
        lid="jid?",
        mediaUrl="string?",
    ),
    _event(
        "message.reaction",
        "a contact reacted to a message (empty emoji: removed)",
        messageId="string",
        targetId="string",
        from_="jid",
        chatId="jid",
        emoji="string",
    ),
    _event(
        "message.edited",
        "a contact edited a message; the stored original (target) now has the new text",
        messageId="string",
        targetId="string",
        from_="jid",
        chatId="jid",
        text="string",
        target="object?",
        previous="string?",
        lid="jid?",
    ),
    _event(
        "message.revoked",
        "a contact (or a group admin) deleted a message for everyone; the stored original "
        "(target) is emptied and marked revoked",
        messageId="string",
        targetId="string",
        from_="jid",
        chatId="jid",
        participant="jid?",
        target="object?",
        lid="jid?",
    ),
    *(
        _event(
            f"message.receipt.{kind}",
            text,
            messageId="string",
            id="uuid?",
            remoteJid="jid",
            participant="jid?",
            receiptType="string",
            timestamp="integer",
            lid="jid?",
        )
        for kind, text in (
            ("delivered", "a message we sent reached the recipient's device"),
            ("read", "a message we sent was read"),
        )
    ),
    # Presence
    _event(
        "presence.update",
        "a contact we subscribed to came online or went away",
        jid="jid",
        available="boolean",
        lastSeen="datetime?",
        lid="jid?",
    ),
    _event(
        "chat.presence",
        "a contact is typing, recording, or stopped",
        chatId="jid",
        from_="jid",
        state="string",
        lid="jid?",
    ),
    # Calls
    *(
        _event(
            f"call.{action}",
            f"a call {text}",
            callId="string",
            from_="jid",
            isVideo="boolean",
            isGroup="boolean",
            timestamp="datetime",
            reason="string?",
            lid="jid?",
        )
        for action, text in (
            ("offer", "is offered to us"),
            ("ringing", "is ringing"),
            ("accept", "was accepted"),
            ("reject", "was rejected"),
            ("terminate", "ended"),
            ("timeout", "was not answered"),
        )
    ),
    # Groups
    *(
        _event(
            f"group.participants.{action}",
            f"participants were {text}",
            groupId="jid",
            participants="jid[]",
            by="jid?",
        )
        for action, text in (
            ("add", "added to a group"),
            ("remove", "removed from a group"),
            ("promote", "made admins"),
            ("demote", "demoted from admin"),
        )
    ),
    _event(
        "group.update",
        "a group's subject or settings changed",
        groupId="jid",
        subject="string?",
        by="jid?",
        details="object",
    ),
    _event(
        "group.joined", "this account joined a group", groupId="jid", subject="string?", by="jid?"
    ),
    # Contacts
    _event(
        "contact.lid_mapped",
        "a contact that writes from a LID is now known by its phone number too; messages "
        "stored from the LID alone now name the phone JID",
        lid="jid",
        phone="jid",
    ),
    # Chats
    _event(
        "chat.updated",
        "a chat was archived, pinned or muted (or the reverse), through the API (source api) "
        "or on another device of the account (source phone)",
        chatId="jid",
        archived="boolean",
        pinned="boolean",
        muted="boolean",
        mutedUntil="datetime?",
        changed="string[]",
        source="string",
    ),
    # Webhooks: recorded in the events API, never delivered to webhooks themselves (a delivery
    # about a delivery would beget another one without end).
    _event(
        "webhook.delivery.queued",
        "a delivery was queued by hand (POST /sessions/:id/webhook/retry); automatic deliveries "
        "are listed by GET /sessions/:id/webhook/events instead",
        deliveryId="string",
        webhookId="uuid",
        event="string",
        url="string",
        reason="string",
    ),
    _event(
        "webhook.delivered",
        "a delivery attempt was answered with a 2xx",
        deliveryId="string",
        webhookId="uuid",
        event="string",
        url="string",
        attempt="integer",
        statusCode="integer",
        latencyMs="integer",
    ),
    _event(
        "webhook.failed",
        "a delivery attempt failed; willRetry says whether another attempt follows",
        deliveryId="string",
        webhookId="uuid",
        event="string",
        url="string?",
        attempt="integer",
        statusCode="integer?",
        latencyMs="integer",
        error="string",
        willRetry="boolean",
        nextAttemptAt="datetime?",
    ),
)

CATALOGUE: MappingProxyType[str, EventType] = MappingProxyType({e.name: e for e in _ALL})
CATEGORIES = frozenset(e.category for e in _ALL)


def lookup(name: str) -> EventType:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(f"event type {name!r} is not in the catalogue") from None


def matches(name: str, patterns: list[str] | None) -> bool:
    """Whether `name` passes a filter of exact names and `category.*` wildcards (None: all)."""
    if patterns is None:
        return True
    for pattern in patterns:
        if pattern in ("*", name):
            return True
        if pattern.endswith(".*") and name.startswith(pattern[:-1]):
            return True
    return False


def is_valid_pattern(pattern: str) -> bool:
    if pattern == "*" or pattern in CATALOGUE:
        return True
    return pattern.endswith(".*") and any(n.startswith(pattern[:-1]) for n in CATALOGUE)
