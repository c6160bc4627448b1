"""Chats on the network: archive, pin and mute (WhatsApp's app-state), both ways.

A change made through zaphubd goes out with `Chats.change`; one made on another device of the
account (the phone) arrives as a `ChatSettingsChanged` event. WhatsApp syncs these settings
between an account's devices end-to-end encrypted ("app state"): the server cannot read them,
so it refuses none of them for what they say, and checking the chat is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Mute:
    """A chat's mute: `until` None while `muted` is forever."""

    muted: bool
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChatChange:
    """What to set on one chat; a None field is left as it is."""

    chat: str
    archived: bool | None = None
    pinned: bool | None = None
    mute: Mute | None = None

    @property
    def empty(self) -> bool:
        return self.archived is None and self.pinned is None and self.mute is None


@dataclass(frozen=True, slots=True)
class ChatSettingsChanged:
    """Another device of the account changed a chat's settings (a `ChatChange` it made)."""

    change: ChatChange


class Chats(Protocol):
    async def change(self, change: ChatChange) -> None:
        """Set the chat's archive / pin / mute on the network, for every device of the
        account. Archiving unpins (as WhatsApp's own clients do): a `change` that archives
        carries `pinned=False`."""
        ...
