"""Read receipts for received messages (the contact sees blue ticks), sent on the live
connection of the node that runs the session.

A receipt is not a send: it is not queued, and a session that is not connected answers 409
at once (the caller marks them read again later). WhatsApp takes one receipt per chat and
sender, so the messages are grouped that way by the caller.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from zaphubd.sessions.actions import SessionActions, transport_errors

OP = "mark_read"


@dataclass(frozen=True, slots=True)
class ReadBatch:
    """Messages of one sender in one chat (the sender is the member, in a group)."""

    chat: str
    sender: str
    message_ids: tuple[str, ...]


class MessageReads:
    def __init__(self, actions: SessionActions) -> None:
        self._actions = actions
        actions.serve(OP, self._local)

    async def mark_read(self, session_id: uuid.UUID, batches: list[ReadBatch]) -> None:
        """Send the read receipts; SessionNotReady (409) when the session is not connected."""
        args = {"batches": [[b.chat, b.sender, list(b.message_ids)] for b in batches]}
        await self._actions.run(session_id, OP, args)

    async def _local(self, session_id: uuid.UUID, args: dict[str, Any]) -> None:
        client = self._actions.connected(session_id, "read receipts need a connected session")
        with transport_errors("read receipts not sent"):
            for chat, sender, ids in args["batches"]:
                await client.mark_read(chat, sender, list(ids))
