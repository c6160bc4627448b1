"""Message actions as sends: edit, revoke, react, forward (what WhatsApp allows, checked first).

Each turns a stored message (`MessageRow`) and the caller's input into a `SendRequest`, the
same queued send as `POST /messages`: it goes through the outbox and the session's lane, so
it keeps its place among the chat's other sends and survives a restart. WhatsApp's own rules
are checked here, before anything is queued, so that a caller learns at once (403, 400, 409)
what WhatsApp would refuse later; the network still has the last word (a refusal ends the
send in `dlq` with its reason).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from zaphubd import jid
from zaphubd.db.messages import MessageRow
from zaphubd.errors import Conflict, Forbidden, ValidationFailed
from zaphubd.messaging.intake import SendRequest

#: WhatsApp lets a sender edit a text for 15 minutes after sending it.
EDIT_WINDOW = timedelta(minutes=15)
#: "Delete for everyone" is offered for about two and a half days (60 hours).
REVOKE_WINDOW = timedelta(hours=60)
#: Rows that act on another message: nothing can be done to them in turn.
_NOT_MESSAGES = frozenset({"edit", "revoke", "reaction", "unknown"})
_PENDING = frozenset({"queued", "processing", "failed", "dlq"})
#: What a forward copies of a stored send's content (never reply, mentions or status list).
_NOT_FORWARDED = frozenset({"quoted", "mentions", "statusJidList", "forwarded", "contacts"})


def edit(row: MessageRow, text: str, request_id: str | None) -> SendRequest:
    """Replace the text of one of our sent texts."""
    _require_message(row)
    if row.direction != "outbound":
        raise Forbidden("only messages this account sent can be edited")
    if row.type != "text":
        raise ValidationFailed(
            f"only a text can be edited, this message is a {row.type}", {"text": ["not a text"]}
        )
    wa_id, sent_at = _sent(row)
    if _now() - sent_at > EDIT_WINDOW:
        raise Forbidden("WhatsApp allows an edit only within 15 minutes of sending")
    return _request(row, "edit", row.to_jid, {"messageId": wa_id, "text": text}, request_id)


def revoke(row: MessageRow, request_id: str | None) -> SendRequest:
    """Delete for everyone: our message, or (as a group admin) a member's."""
    _require_message(row)
    if row.direction == "outbound":
        wa_id, sent_at = _sent(row)
        content: dict[str, Any] = {"messageId": wa_id, "fromMe": True}
    else:
        chat = row.chat_jid or row.to_jid
        if not jid.is_group(chat):
            raise Forbidden(
                "only its sender can delete a message for everyone in a one-to-one chat"
            )
        wa_id, sent_at = row.wa_message_id or row.message_id, row.wa_timestamp or row.created_at
        content = {"messageId": wa_id, "fromMe": False, "participant": row.from_jid}
    if _now() - sent_at > REVOKE_WINDOW:
        raise Forbidden("WhatsApp allows deleting for everyone only within 60 hours")
    return _request(row, "revoke", _chat(row), content, request_id)


def react(row: MessageRow, emoji: str, request_id: str | None) -> SendRequest:
    """React to a message (an empty emoji takes the reaction back)."""
    _require_message(row)
    wa_id = _wa_id(row)
    content: dict[str, Any] = {"messageId": wa_id, "emoji": emoji}
    if row.direction == "inbound" and jid.is_group(_chat(row)) and row.from_jid:
        content["participant"] = row.from_jid
    return _request(row, "reaction", _chat(row), content, request_id)


def forward(row: MessageRow, to: str, request_id: str | None) -> SendRequest:
    """A copy of the message's content to `to`, marked as forwarded."""
    _require_message(row)
    if row.direction == "outbound" and row.status in _PENDING:
        raise Conflict("this message has not been sent yet")
    if "_media" in row.content:
        raise ValidationFailed(
            "received media cannot be forwarded: download it "
            "(GET .../messages/{messageId}/media) and send it as a new message",
            {"messageId": ["received media"]},
        )
    content = {
        k: v for k, v in row.content.items() if k not in _NOT_FORWARDED and not k.startswith("_")
    }
    return _request(row, row.type, to, content | {"forwarded": True}, request_id)


def _request(
    row: MessageRow, kind: str, to: str, content: dict[str, Any], request_id: str | None
) -> SendRequest:
    return SendRequest(
        session_id=row.session_id,
        message_id=request_id or f"{kind}-{uuid.uuid4()}",
        type=kind,
        to=to,
        content=content,
        metadata={"target": {"id": str(row.id), "messageId": row.message_id}},
    )


def _require_message(row: MessageRow) -> None:
    if row.type in _NOT_MESSAGES:
        raise ValidationFailed(
            f"a {row.type} row is not a message this can act on", {"messageId": ["not a message"]}
        )
    if row.metadata.get("revoked"):
        raise Conflict("this message was deleted for everyone")


def _sent(row: MessageRow) -> tuple[str, datetime]:
    """Our message's WhatsApp id and when it was sent; 409 while it is not sent."""
    if row.status in _PENDING or row.wa_message_id is None:
        raise Conflict("this message has not been sent yet")
    return row.wa_message_id, row.sent_at or row.wa_timestamp or row.created_at


def _wa_id(row: MessageRow) -> str:
    if row.direction == "outbound":
        return _sent(row)[0]
    return row.wa_message_id or row.message_id


def _chat(row: MessageRow) -> str:
    return row.to_jid if row.direction == "outbound" else (row.chat_jid or row.to_jid)


def _now() -> datetime:
    return datetime.now(UTC)
