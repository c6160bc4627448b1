"""Groups on the network: the `Groups` contract every transport's client offers, and its
results.

A client's `groups` sub-object does what the account's own phone could do with a group:
create one, read the ones it is in, change members and settings, share and revoke the invite
link, join by a link, leave. Refusals are the errors of `transport.base`: `TargetNotFound`
(no such group, an unknown or revoked invite), `NotPermitted` (not a member, not an admin),
`NotConnected`, `RateLimited`. A per-participant outcome is not an error: it is a
`ParticipantResult` with one of the `PARTICIPANT_STATUSES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

ParticipantAction = Literal["add", "remove", "promote", "demote"]
PARTICIPANT_ACTIONS: tuple[ParticipantAction, ...] = ("add", "remove", "promote", "demote")

#: Stable names of what happened to one participant of a change (docs/api.md, Groups).
ParticipantStatus = Literal[
    "ok",
    "not_on_whatsapp",
    "already_member",
    "not_member",
    "privacy_restricted",
    "recently_left",
    "failed",
]
PARTICIPANT_STATUSES: tuple[ParticipantStatus, ...] = (
    "ok",
    "not_on_whatsapp",
    "already_member",
    "not_member",
    "privacy_restricted",
    "recently_left",
    "failed",
)

INVITE_LINK_PREFIX = "https://chat.whatsapp.com/"


@dataclass(frozen=True, slots=True)
class GroupParticipant:
    """One member: `jid` as the group addresses it (a phone JID or a LID), with the other
    form when the network tells it."""

    jid: str
    phone: str | None
    lid: str | None
    is_admin: bool
    is_super_admin: bool


@dataclass(frozen=True, slots=True)
class GroupInfo:
    jid: str
    subject: str
    description: str
    owner: str | None
    created_at: datetime | None
    announce: bool
    locked: bool
    participants: tuple[GroupParticipant, ...]


@dataclass(frozen=True, slots=True)
class ParticipantResult:
    """What one participant of an add/remove/promote/demote came to; `error` is the
    network's own code when it refused (WhatsApp's 403, 404, 408, 409...)."""

    jid: str
    status: ParticipantStatus
    error: int | None = None


@dataclass(frozen=True, slots=True)
class GroupSettings:
    """A change of a group's info: only the fields that are not None change."""

    subject: str | None = None
    description: str | None = None
    announce: bool | None = None
    locked: bool | None = None


class Groups(Protocol):
    async def create(self, subject: str, participants: list[str]) -> GroupInfo:
        """A new group with the account as its owner and `participants` (user JIDs)."""
        ...

    async def joined(self) -> list[GroupInfo]:
        """Every group the account is a member of."""
        ...

    async def info(self, group: str) -> GroupInfo: ...

    async def change_participants(
        self, group: str, action: ParticipantAction, participants: list[str]
    ) -> list[ParticipantResult]: ...

    async def update(self, group: str, settings: GroupSettings) -> None:
        """Apply the set fields in order: subject, description, announce, locked."""
        ...

    async def invite_link(self, group: str, revoke: bool = False) -> str:
        """The group's invite link (`https://chat.whatsapp.com/<code>`); `revoke` makes the
        current one stop working and returns its replacement."""
        ...

    async def join(self, code: str) -> str:
        """Join by an invite code; returns the group's JID."""
        ...

    async def leave(self, group: str) -> None: ...
