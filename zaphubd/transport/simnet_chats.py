"""Chat settings over simnet: the `chat_settings` request, and the frame that tells this
device about a change made on another one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from zaphubd.simnet.protocol import Frame
from zaphubd.transport.chats import ChatChange, ChatSettingsChanged, Mute

#: The op of the request and of the server's frame alike.
OP = "chat_settings"

Request = Callable[[Frame], Awaitable[Frame]]


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def encode(change: ChatChange) -> Frame:
    frame: Frame = {"op": OP, "chat": change.chat}
    if change.archived is not None:
        frame["archived"] = change.archived
    if change.pinned is not None:
        frame["pinned"] = change.pinned
    if change.mute is not None:
        until = change.mute.until
        frame["mute"] = {"muted": change.mute.muted, "until": _ms(until) if until else None}
    return frame


def decode(frame: Frame) -> ChatSettingsChanged:
    mute: Any = frame.get("mute")
    until = mute.get("until") if isinstance(mute, dict) else None
    change = ChatChange(
        chat=str(frame["chat"]),
        archived=frame.get("archived"),
        pinned=frame.get("pinned"),
        mute=(
            Mute(bool(mute["muted"]), datetime.fromtimestamp(until / 1000, UTC) if until else None)
            if isinstance(mute, dict)
            else None
        ),
    )
    return ChatSettingsChanged(change)


class SimnetChats:
    def __init__(self, request: Request) -> None:
        self._request = request

    async def change(self, change: ChatChange) -> None:
        await self._request(encode(change))
