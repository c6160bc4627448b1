"""`Groups` on neonize 0.5.2 (whatsmeow): the calls, the mapper from neonize's `GroupInfo`
protobuf, and whatsmeow's refusals read as transport errors.

whatsmeow reports a refusal as text, which neonize hands over as the message of an exception:
its own sentences for the group calls ("that group does not exist", "you're not
participating in that group", "that group invite link has been revoked"...), otherwise the
IQ error ("info query returned status 403: forbidden"). `refusal()` reads both. The
per-participant outcome of `UpdateGroupParticipants` is a `GroupParticipant` with `Error`
set to WhatsApp's code (0 when it worked).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from neonize.utils.enum import ParticipantChange

from zaphubd.transport.base import (
    NotConnected,
    NotPermitted,
    RateLimited,
    TargetNotFound,
    TransportError,
)
from zaphubd.transport.groups import (
    GroupInfo,
    GroupParticipant,
    GroupSettings,
    ParticipantAction,
    ParticipantResult,
    ParticipantStatus,
)
from zaphubd.transport.neonize_inbound import jid_text, optional_jid, to_datetime
from zaphubd.transport.neonize_outbound import InvalidRecipient, parse_jid

T = TypeVar("T")
#: `NeonizeClient._call`: one neonize call on the connected client, under the gate.
Call = Callable[[str, Callable[[Any], Awaitable[T]]], Awaitable[T]]

_CHANGES = {
    "add": ParticipantChange.ADD,
    "remove": ParticipantChange.REMOVE,
    "promote": ParticipantChange.PROMOTE,
    "demote": ParticipantChange.DEMOTE,
}
_NOT_FOUND = re.compile(
    r"group does not exist|invite link is not valid|invite link has been revoked"
    r"|status (404|406|410)\b|item-not-found|not-acceptable",
    re.IGNORECASE,
)
_NOT_PERMITTED = re.compile(
    r"not participating in that group|permission to get the group's invite link"
    r"|status (401|403)\b|not-authorized|forbidden",
    re.IGNORECASE,
)
_RATE_LIMITED = re.compile(r"status 429\b|rate-overlimit", re.IGNORECASE)


class NeonizeGroups:
    def __init__(self, call: Call[Any]) -> None:
        self._call = call

    async def create(self, subject: str, participants: list[str]) -> GroupInfo:
        jids = [_jid(p) for p in participants]
        info = await self._run("create group", lambda c: c.create_group(subject, jids))
        return group_info(info)

    async def joined(self) -> list[GroupInfo]:
        infos = await self._run("list groups", lambda c: c.get_joined_groups())
        return [group_info(i) for i in infos]

    async def info(self, group: str) -> GroupInfo:
        target = _jid(group)
        return group_info(await self._run("group info", lambda c: c.get_group_info(target)))

    async def change_participants(
        self, group: str, action: ParticipantAction, participants: list[str]
    ) -> list[ParticipantResult]:
        target, jids, change = _jid(group), [_jid(p) for p in participants], _CHANGES[action]
        answer = await self._run(
            f"{action} participants",
            lambda c: c.update_group_participants(target, jids, change),
        )
        return [participant_result(action, p) for p in answer]

    async def update(self, group: str, settings: GroupSettings) -> None:
        target = _jid(group)
        if settings.subject is not None:
            name = settings.subject
            await self._run("set subject", lambda c: c.set_group_name(target, name))
        if settings.description is not None:
            topic = settings.description
            # Empty ids: whatsmeow reads the current topic id itself and makes a new one.
            await self._run("set description", lambda c: c.set_group_topic(target, "", "", topic))
        if settings.announce is not None:
            announce = settings.announce
            await self._run("set announce", lambda c: c.set_group_announce(target, announce))
        if settings.locked is not None:
            locked = settings.locked
            await self._run("set locked", lambda c: c.set_group_locked(target, locked))

    async def invite_link(self, group: str, revoke: bool = False) -> str:
        target = _jid(group)
        link: str = await self._run(
            "invite link", lambda c: c.get_group_invite_link(target, revoke=revoke)
        )
        return link

    async def join(self, code: str) -> str:
        joined = await self._run("join group", lambda c: c.join_group_with_link(code))
        return jid_text(joined)

    async def leave(self, group: str) -> None:
        target = _jid(group)
        await self._run("leave group", lambda c: c.leave_group(target))

    async def _run(self, what: str, call: Callable[[Any], Awaitable[T]]) -> T:
        try:
            result: T = await self._call(what, call)
        except NotConnected:
            raise
        except TransportError as err:
            raise refusal(err) from err
        return result


def refusal(err: TransportError) -> TransportError:
    """The transport error whatsmeow's text stands for (the neonize error is the cause)."""
    text = str(err.__cause__ or err)
    for pattern, kind in (
        (_RATE_LIMITED, RateLimited),
        (_NOT_FOUND, TargetNotFound),
        (_NOT_PERMITTED, NotPermitted),
    ):
        if pattern.search(text):
            return kind(str(err))
    return err


def group_info(info: Any) -> GroupInfo:
    """neonize's `GroupInfo` protobuf as ours."""
    created = int(info.GroupCreated) if info.GroupCreated > 0 else 0
    owner = info.OwnerPN if info.HasField("OwnerPN") and info.OwnerPN.User else info.OwnerJID
    return GroupInfo(
        jid=jid_text(info.JID),
        subject=info.GroupName.Name,
        description=info.GroupTopic.Topic,
        owner=optional_jid(owner),
        created_at=to_datetime(created) if created else None,
        announce=info.GroupAnnounce.IsAnnounce,
        locked=info.GroupLocked.isLocked,
        # create_group's answer lists those WhatsApp would not add, with their error code:
        # they are not members.
        participants=tuple(participant(p) for p in info.Participants if not p.Error),
    )


def participant(p: Any) -> GroupParticipant:
    """A member as whatsmeow gives it: `JID` (a phone JID or a LID, as the group addresses
    its members), and the other form in `PhoneNumber` or `LID` when known."""
    jid = jid_text(p.JID)
    phone = optional_jid(p.PhoneNumber) if p.HasField("PhoneNumber") else None
    lid = optional_jid(p.LID) if p.HasField("LID") else None
    if jid.endswith("@lid"):
        lid = lid or jid
    else:
        phone = phone or jid
    return GroupParticipant(jid, phone, lid, p.IsAdmin or p.IsSuperAdmin, p.IsSuperAdmin)


def participant_result(action: ParticipantAction, p: Any) -> ParticipantResult:
    code = int(p.Error)
    return ParticipantResult(jid_text(p.JID), _status(action, code), code or None)


def _status(action: ParticipantAction, code: int) -> ParticipantStatus:
    """WhatsApp's per-participant codes: 403 the number's privacy settings refuse being
    added (an invite is offered instead), 404 not on WhatsApp (add) or not a member (the
    others), 408 left recently, 409 already a member."""
    if code == 0:
        return "ok"
    if code == 404:
        return "not_on_whatsapp" if action == "add" else "not_member"
    known: dict[int, ParticipantStatus] = {
        403: "privacy_restricted",
        408: "recently_left",
        409: "already_member",
    }
    return known.get(code, "failed")


def _jid(text: str) -> Any:
    try:
        return parse_jid(text)
    except InvalidRecipient as err:
        raise TransportError(str(err)) from err
