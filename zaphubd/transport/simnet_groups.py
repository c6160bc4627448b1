"""`Groups` on simnet: each call is one device request (`simnet/group_ops.py`); refusals
arrive as transport errors through the client's `request` (`REFUSALS` in simnet.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from zaphubd.simnet.codec import from_ms
from zaphubd.simnet.protocol import Frame
from zaphubd.transport.groups import (
    PARTICIPANT_STATUSES,
    GroupInfo,
    GroupParticipant,
    GroupSettings,
    ParticipantAction,
    ParticipantResult,
    ParticipantStatus,
)

Request = Callable[[Frame], Awaitable[Frame]]


class SimnetGroups:
    def __init__(self, request: Request) -> None:
        self._request = request

    async def create(self, subject: str, participants: list[str]) -> GroupInfo:
        frame = {"op": "group_create", "subject": subject, "participants": participants}
        return group_info(await self._request(frame))

    async def joined(self) -> list[GroupInfo]:
        data = await self._request({"op": "group_list"})
        return [group_info(g) for g in data["groups"]]

    async def info(self, group: str) -> GroupInfo:
        return group_info(await self._request({"op": "group_info", "group": group}))

    async def change_participants(
        self, group: str, action: ParticipantAction, participants: list[str]
    ) -> list[ParticipantResult]:
        frame = {
            "op": "group_participants",
            "group": group,
            "action": action,
            "participants": participants,
        }
        data = await self._request(frame)
        return [_result(r) for r in data["results"]]

    async def update(self, group: str, settings: GroupSettings) -> None:
        changes = {
            name: value
            for name, value in (
                ("subject", settings.subject),
                ("description", settings.description),
                ("announce", settings.announce),
                ("locked", settings.locked),
            )
            if value is not None
        }
        await self._request({"op": "group_update", "group": group, **changes})

    async def invite_link(self, group: str, revoke: bool = False) -> str:
        data = await self._request({"op": "group_invite", "group": group, "revoke": revoke})
        return str(data["link"])

    async def join(self, code: str) -> str:
        return str((await self._request({"op": "group_join", "code": code}))["group"])

    async def leave(self, group: str) -> None:
        await self._request({"op": "group_leave", "group": group})


def group_info(frame: Frame) -> GroupInfo:
    created = int(frame.get("created_at") or 0)
    return GroupInfo(
        jid=frame["jid"],
        subject=frame["subject"],
        description=frame["description"],
        owner=frame.get("owner"),
        created_at=from_ms(created) if created > 0 else None,
        announce=bool(frame["announce"]),
        locked=bool(frame["locked"]),
        participants=tuple(_participant(p) for p in frame["participants"]),
    )


def _participant(frame: dict[str, Any]) -> GroupParticipant:
    return GroupParticipant(
        jid=frame["jid"],
        phone=frame.get("phone"),
        lid=frame.get("lid"),
        is_admin=bool(frame["admin"]),
        is_super_admin=bool(frame["super_admin"]),
    )


def _result(frame: dict[str, Any]) -> ParticipantResult:
    status = frame["status"] if frame["status"] in PARTICIPANT_STATUSES else "failed"
    return ParticipantResult(frame["jid"], cast(ParticipantStatus, status), frame.get("error"))
