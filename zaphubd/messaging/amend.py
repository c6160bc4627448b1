"""Edits and revokes reach the stored original: a contact's when it arrives, the account's
own (from the phone, or sent through zaphubd) once WhatsApp accepted it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from zaphubd.db.message_amends import MessageAmends, Original
from zaphubd.db.messages import MessageRow
from zaphubd.transport.events import MessageIn

#: The inbound types that change another message.
AMENDING = frozenset({"edit", "revoke"})


async def amend_received(
    amends: MessageAmends, session_id: uuid.UUID, event: MessageIn
) -> dict[str, Any]:
    """Apply an edit or revoke seen on the account; what its event adds: `target` (the
    stored original's `id` and `messageId`, null when zaphubd does not have it) and, for an
    edit, `previous` (the text it replaced)."""
    target = event.content.get("messageId")
    original: Original | None = None
    if isinstance(target, str) and event.type in AMENDING:
        original = await _apply(
            amends,
            session_id,
            event.type,
            target,
            event.content,
            event.timestamp,
            event.sender,
            ours=event.from_me,
        )
    extra: dict[str, Any] = {"target": _target(original)}
    if event.type == "edit" and original is not None and original.previous is not None:
        extra["previous"] = original.previous
    return extra


async def amend_sent(amends: MessageAmends, row: MessageRow, at: datetime) -> None:
    """Our edit or revoke (`row`) was accepted by WhatsApp: the original follows."""
    target = row.content.get("messageId")
    if row.type not in AMENDING or not isinstance(target, str):
        return
    ours = bool(row.content.get("fromMe", True))
    await _apply(amends, row.session_id, row.type, target, row.content, at, "me", ours=ours)


async def _apply(
    amends: MessageAmends,
    session_id: uuid.UUID,
    kind: str,
    target: str,
    content: dict[str, Any],
    at: datetime,
    by: str,
    *,
    ours: bool,
) -> Original | None:
    if kind == "edit":
        text = str(content.get("text", ""))
        return await amends.edited(session_id, target, text, at, ours=ours)
    return await amends.revoked(session_id, target, at, by, ours=ours)


def _target(original: Original | None) -> dict[str, Any] | None:
    if original is None:
        return None
    return {"id": original.id, "messageId": original.message_id}
