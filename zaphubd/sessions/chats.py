"""Archive, pin and mute a session's chats: on WhatsApp first, then in zaphubd's records.

A change asked through the API runs where the session runs (`SessionActions`), and only once
WhatsApp took it is it recorded (`chat_settings`) and announced (`chat.updated`). A change
made on another device of the account (the phone) arrives from the transport and is recorded
and announced the same way. An announcement is made only when the recorded state changed,
so WhatsApp echoing our own change back is not news.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import datetime
from typing import Any, Literal

from zaphubd.db.chats import ChatRepo, ChatSettings
from zaphubd.eventsink import EventSink
from zaphubd.sessions.actions import SessionActions, transport_errors
from zaphubd.transport.chats import ChatChange, ChatSettingsChanged, Mute

log = logging.getLogger("zaphubd.sessions.chats")

OP = "chat_settings"
Source = Literal["api", "phone"]


def encode(change: ChatChange) -> dict[str, Any]:
    """As JSON, to cross to the node that runs the session."""
    data = dataclasses.asdict(change)
    if change.mute is not None and change.mute.until is not None:
        data["mute"]["until"] = change.mute.until.isoformat()
    return data


def decode(data: dict[str, Any]) -> ChatChange:
    mute = data.get("mute")
    return ChatChange(
        chat=data["chat"],
        archived=data.get("archived"),
        pinned=data.get("pinned"),
        mute=(
            Mute(mute["muted"], datetime.fromisoformat(mute["until"]) if mute["until"] else None)
            if mute is not None
            else None
        ),
    )


def applied(current: ChatSettings, change: ChatChange) -> ChatSettings:
    """`current` with `change` made."""
    values = dataclasses.asdict(current)
    for name in ("archived", "pinned"):
        if getattr(change, name) is not None:
            values[name] = getattr(change, name)
    if change.mute is not None:
        values["muted"] = change.mute.muted
        values["muted_until"] = change.mute.until if change.mute.muted else None
    return ChatSettings(**values)


def settings_view(settings: ChatSettings) -> dict[str, Any]:
    return {
        "archived": settings.archived,
        "pinned": settings.pinned,
        "muted": settings.muted,
        "mutedUntil": settings.muted_until,
    }


class ChatActions:
    def __init__(self, actions: SessionActions, repo: ChatRepo, sink: EventSink) -> None:
        self._actions = actions
        self._repo = repo
        self._sink = sink
        actions.serve(OP, self._change_here)

    async def change(
        self,
        session_id: uuid.UUID,
        chat: str,
        archived: bool | None = None,
        pinned: bool | None = None,
        muted: bool | None = None,
        muted_until: datetime | None = None,
    ) -> ChatSettings:
        """Change the chat on WhatsApp (409 when the session is not connected, the
        transport's refusals as API errors), then record it; the chat's settings now. None
        leaves a setting as it is; `muted_until` None while `muted` is forever. Archiving
        unpins, as WhatsApp's own clients do."""
        mute = Mute(muted, muted_until if muted else None) if muted is not None else None
        change = ChatChange(chat, archived, False if archived else pinned, mute)
        await self._actions.run(session_id, OP, encode(change))
        return await self.record(session_id, change, "api")

    async def _change_here(self, session_id: uuid.UUID, args: dict[str, Any]) -> None:
        client = self._actions.connected(session_id, "changing a chat needs WhatsApp")
        with transport_errors("chat not changed"):
            await client.chats.change(decode(args))

    async def record(
        self, session_id: uuid.UUID, change: ChatChange, source: Source
    ) -> ChatSettings:
        """Store the chat's new settings; `chat.updated` when they changed."""
        current = await self._repo.settings(session_id, change.chat)
        new = applied(current, change)
        if new != current and await self._repo.save_settings(session_id, change.chat, new):
            changed = [
                f.name
                for f in dataclasses.fields(new)
                if getattr(new, f.name) != getattr(current, f.name)
            ]
            payload = {
                "chatId": change.chat,
                **settings_view(new),
                "changed": [_camel(name) for name in changed],
                "source": source,
            }
            await self._sink.emit(session_id, "chat.updated", payload)
        return new

    async def on_event(self, session_id: uuid.UUID, event: ChatSettingsChanged) -> None:
        """A change made on another device of the account."""
        await self.record(session_id, event.change, "phone")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
