"""What the API may do with a session's groups, run where the session runs.

Each call is a session action (`actions.py`): forwarded to the owner node in a cluster, its
arguments and results JSON. Results are already in the API's shape (camelCase, ISO times).
Transport refusals become API errors in one place (`transport_errors`): no such group or
invite 404, not a member or not an admin 403, not connected 409, WhatsApp's rate limit 429.
"""

from __future__ import annotations

import uuid
from typing import Any

from zaphubd.sessions.actions import SessionActions, transport_errors
from zaphubd.transport.groups import (
    PARTICIPANT_ACTIONS,
    PARTICIPANT_STATUSES,
    GroupInfo,
    GroupSettings,
    ParticipantAction,
)

__all__ = ["PARTICIPANT_ACTIONS", "PARTICIPANT_STATUSES", "GroupActions", "group_view"]

WHY = "groups need a connected session"


def group_view(info: GroupInfo, *, participants: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "jid": info.jid,
        "subject": info.subject,
        "description": info.description,
        "owner": info.owner,
        "createdAt": info.created_at.isoformat() if info.created_at else None,
        "announce": info.announce,
        "locked": info.locked,
        "size": len(info.participants),
    }
    if participants:
        view["participants"] = [
            {
                "jid": p.jid,
                "phone": p.phone,
                "lid": p.lid,
                "isAdmin": p.is_admin,
                "isSuperAdmin": p.is_super_admin,
            }
            for p in info.participants
        ]
    return view


class GroupActions:
    """The group calls of the API; see the module docstring."""

    def __init__(self, actions: SessionActions) -> None:
        self._actions = actions
        for op, local in (
            ("groups.create", self._create),
            ("groups.list", self._list),
            ("groups.get", self._get),
            ("groups.participants", self._participants),
            ("groups.update", self._update),
            ("groups.invite", self._invite),
            ("groups.join", self._join),
            ("groups.leave", self._leave),
        ):
            actions.serve(op, local)

    async def create(self, session_id: uuid.UUID, subject: str, participants: list[str]) -> Any:
        args = {"subject": subject, "participants": participants}
        return await self._actions.run(session_id, "groups.create", args)

    async def list_page(self, session_id: uuid.UUID, limit: int, offset: int) -> Any:
        """`{groups, total}`: one page of the groups the account is in, by subject."""
        args = {"limit": limit, "offset": offset}
        return await self._actions.run(session_id, "groups.list", args)

    async def get(self, session_id: uuid.UUID, group: str) -> Any:
        return await self._actions.run(session_id, "groups.get", {"group": group})

    async def participants(
        self, session_id: uuid.UUID, group: str, action: ParticipantAction, who: list[str]
    ) -> Any:
        args = {"group": group, "action": action, "participants": who}
        return await self._actions.run(session_id, "groups.participants", args)

    async def update(self, session_id: uuid.UUID, group: str, changes: dict[str, Any]) -> Any:
        """Apply `changes` (subject, description, announce, locked); returns the group."""
        args = {"group": group, "changes": changes}
        return await self._actions.run(session_id, "groups.update", args)

    async def invite_link(self, session_id: uuid.UUID, group: str, revoke: bool) -> Any:
        args = {"group": group, "revoke": revoke}
        return await self._actions.run(session_id, "groups.invite", args)

    async def join(self, session_id: uuid.UUID, code: str) -> Any:
        return await self._actions.run(session_id, "groups.join", {"code": code})

    async def leave(self, session_id: uuid.UUID, group: str) -> None:
        await self._actions.run(session_id, "groups.leave", {"group": group})

    # -- on the node that runs the session --------------------------------------------

    async def _create(self, session_id: uuid.UUID, args: dict[str, Any]) -> Any:
        groups = self._actions.connected(session_id, WHY).groups
        with transport_errors("group not created"):
            info = await groups.create(args["subject"], args["participants"])
        return group_view(info)

    async def _list(self, session_id: uuid.UUID, args: dict[str, Any]) -> Any:
        groups = self._actions.connected(session_id, WHY).groups
        with transport_errors("groups not listed"):
            infos = await groups.joined()
        infos.sort(key=lambda i: (i.subject.casefold(), i.jid))
        page = infos[args["offset"] : args["offset"] + args["limit"]]
        return {"groups": [group_view(i, participants=False) for i in page], "total": len(infos)}

    async def _get(self, session_id: uuid.UUID, args: dict[str, Any]) -> Any:
        groups = self._actions.connected(session_id, WHY).groups
        with transport_errors("group not read"):
            info = await groups.info(args["group"])
        return group_view(info)

    async def _participants(self, session_id: uuid.UUID, args: dict[str, Any]) -> Any:
        groups = self._actions.connected(session_id, WHY).groups
        with transport_errors(f"participants not changed ({args['action']})"):
            results = await groups.change_participants(
                args["group"], args["action"], args["participants"]
            )
        return [
            {"jid": r.jid, "status": r.status, **({"error": r.error} if r.error else {})}
            for r in results
        ]

    async def _update(self, session_id: uuid.UUID, args: dict[str, Any]) -> Any:
        groups = self._actions.connected(session_id, WHY).groups
        settings = GroupSettings(**args["changes"])
        with transport_errors("group not changed"):
            await groups.update(args["group"], settings)
            info = await groups.info(args["group"])
        return group_view(info)

    async def _invite(self, session_id: uuid.UUID, args: dict[str, Any]) -> Any:
        groups = self._actions.connected(session_id, WHY).groups
        with transport_errors("no invite link"):
            link = await groups.invite_link(args["group"], revoke=bool(args["revoke"]))
        return {"jid": args["group"], "inviteLink": link}

    async def _join(self, session_id: uuid.UUID, args: dict[str, Any]) -> Any:
        groups = self._actions.connected(session_id, WHY).groups
        with transport_errors("group not joined"):
            group = await groups.join(args["code"])
            info = await groups.info(group)
        return group_view(info)

    async def _leave(self, session_id: uuid.UUID, args: dict[str, Any]) -> None:
        groups = self._actions.connected(session_id, WHY).groups
        with transport_errors("group not left"):
            await groups.leave(args["group"])
