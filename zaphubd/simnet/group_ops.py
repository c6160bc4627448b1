"""The device ops for groups (merged into `devices.OPS`): what a zaphubd session asks of
the network about groups, checked and answered as WhatsApp would (see `groups.py`)."""

from __future__ import annotations

from zaphubd import jid
from zaphubd.simnet import groups
from zaphubd.simnet.link import Link
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import Frame, OpError
from zaphubd.simnet.requests import Handler, online_phone, text

ACTIONS = ("add", "remove", "promote", "demote")


def _group_jid(frame: Frame) -> str:
    value = frame.get("group")
    if not isinstance(value, str) or not jid.is_group(value):
        raise OpError("bad_request", "group must be a group JID (<id>@g.us)")
    return value


def _phones(frame: Frame) -> list[str]:
    values = frame.get("participants")
    if not isinstance(values, list) or len(values) > groups.PARTICIPANTS_MAX:
        raise OpError("bad_request", "participants must be a list of user JIDs")
    phones = []
    for value in values:
        if not isinstance(value, str) or not jid.is_user(value):
            raise OpError("bad_request", f"not a user JID: {value!r}")
        phones.append(jid.phone_of(value))
    return phones


def _create(net: Network, link: Link, frame: Frame) -> Frame:
    _device, phone = online_phone(link)
    subject = text(frame, "subject", groups.SUBJECT_MAX)
    group = groups.create(net, phone, subject, _phones(frame))
    return groups.describe(net, group)


def _list(net: Network, link: Link, frame: Frame) -> Frame:
    _device, phone = online_phone(link)
    return {"groups": groups.joined(net, phone)}


def _info(net: Network, link: Link, frame: Frame) -> Frame:
    _device, phone = online_phone(link)
    return groups.describe(net, groups.member_group(net, _group_jid(frame), phone))


def _participants(net: Network, link: Link, frame: Frame) -> Frame:
    _device, phone = online_phone(link)
    action = frame.get("action")
    if action not in ACTIONS:
        raise OpError("bad_request", "action must be add, remove, promote or demote")
    results = groups.change_participants(net, _group_jid(frame), phone, action, _phones(frame))
    return {"results": results}


def _update(net: Network, link: Link, frame: Frame) -> Frame:
    _device, phone = online_phone(link)
    groups.update(net, _group_jid(frame), phone, frame)
    return {}


def _invite(net: Network, link: Link, frame: Frame) -> Frame:
    _device, phone = online_phone(link)
    revoke = frame.get("revoke") is True
    return {"link": groups.invite_link(net, _group_jid(frame), phone, revoke)}


def _join(net: Network, link: Link, frame: Frame) -> Frame:
    _device, phone = online_phone(link)
    code = text(frame, "code", 64).removeprefix(groups.INVITE_PREFIX)
    return {"group": groups.join(net, phone, code).jid}


def _leave(net: Network, link: Link, frame: Frame) -> Frame:
    _device, phone = online_phone(link)
    groups.leave(net, _group_jid(frame), phone)
    return {}


OPS: dict[str, Handler] = {
    "group_create": _create,
    "group_list": _list,
    "group_info": _info,
    "group_participants": _participants,
    "group_update": _update,
    "group_invite": _invite,
    "group_join": _join,
    "group_leave": _leave,
}
