"""The contacts part of the transport contract: which numbers are on WhatsApp, a contact's
about text and picture, the blocklist, and the account's own profile.

Numbers cross this interface as bare digits (`5511...`), contacts as user JIDs
(`<digits>@s.whatsapp.net`). A contact that is not on WhatsApp is `TargetNotFound`; a network
that asks us to slow down is `RateLimited` (base.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class NumberCheck:
    """One number of a check: `jid` is the account WhatsApp answers for it (it may differ
    from the number asked, e.g. Brazilian numbers without the ninth digit)."""

    number: str
    exists: bool
    jid: str | None


@dataclass(frozen=True, slots=True)
class Picture:
    """A profile picture: a URL on WhatsApp's CDN (it expires) and its id, which changes
    with each new picture."""

    url: str
    id: str


@dataclass(frozen=True, slots=True)
class ContactProfile:
    jid: str
    about: str | None
    about_set_at: datetime | None
    picture: Picture | None


@dataclass(frozen=True, slots=True)
class OwnProfile:
    jid: str
    push_name: str | None
    about: str | None
    picture: Picture | None


class Contacts(Protocol):
    """A connected session's contacts; every call raises NotConnected when it is not."""

    async def check(self, numbers: Sequence[str]) -> list[NumberCheck]:
        """One request to the network for all of `numbers` (digits), in their order."""
        ...

    async def profile(self, jid: str) -> ContactProfile: ...

    async def block(self, jid: str) -> None: ...

    async def unblock(self, jid: str) -> None: ...

    async def blocklist(self) -> list[str]:
        """The JIDs this account blocks."""
        ...

    async def own_profile(self) -> OwnProfile: ...

    async def set_push_name(self, name: str) -> None: ...

    async def set_about(self, about: str) -> None: ...

    async def set_picture(self, jpeg: bytes) -> str:
        """Make the JPEG the account's picture; its new picture id."""
        ...
