"""Presence, typing indicators, calls and groups: everything besides messages.

Presence (available/unavailable) of an account reaches only the devices that subscribed to
it, as on WhatsApp; chat presence (composing, recording, paused) reaches the chat partner, or
the other members of a group. Both are ephemeral: a device that is offline misses them.
Group changes are queued like messages, since a device must not miss who joined or left.
"""

from __future__ import annotations

import secrets
from typing import Any

from zaphubd import jid
from zaphubd.simnet import groups
from zaphubd.simnet.model import Device, Group, now_ms
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import OpError

ACCOUNT_PRESENCE = frozenset({"available", "unavailable"})
CHAT_PRESENCE = frozenset({"composing", "recording", "paused"})
CALL_ACTIONS = frozenset({"offer", "ringing", "accept", "reject", "terminate", "timeout"})
GROUP_ACTIONS = frozenset({"create", "add", "remove", "promote", "demote", "subject"})


def account_presence(net: Network, phone: str, available: bool, to: str | None = None) -> int:
    """`phone` came online or went away: tell its subscribers (only those of `to`, if set)."""
    watchers = net.watchers.get(phone, set())
    if to is not None:
        watchers = watchers & net.accounts.get(jid.phone_of(to), set())
    frame = {
        "op": "presence",
        "jid": net.as_seen(phone)[0],
        "available": available,
        "last_seen": None if available else now_ms(),
    }
    return net.notify(watchers, frame)


def chat_presence(net: Network, phone: str, to: str, state: str) -> int:
    """`phone` is typing/recording/paused in its chat with `to` (a user or a group)."""
    if jid.is_group(to):
        group = _group(net, to)
        targets = _devices_of(net, group.members - {phone})
        chat = to
    else:
        targets = _devices_of(net, {jid.phone_of(to)} - {phone})
        chat = net.as_seen(phone)[0]
    frame = {"op": "chat_presence", "chat": chat, "sender": net.as_seen(phone)[0], "state": state}
    return net.notify(targets, frame)


def subscribe(net: Network, device: Device, target: str) -> None:
    phone = (net.phone_of_lid(target) or "") if jid.is_lid(target) else jid.phone_of(target)
    device.subscriptions.add(phone)
    net.watchers.setdefault(phone, set()).add(device.device_id)
    net.record(device, "subscribe", jid=jid.user_jid(phone))


def call(net: Network, caller: str, callee: str, action: str, **options: Any) -> tuple[str, int]:
    """A call event from `caller` to the account `callee`; returns (call id, devices told)."""
    call_id = options.get("call_id") or secrets.token_hex(16).upper()
    frame = {
        "op": "call",
        "call_id": call_id,
        "caller": net.as_seen(caller)[0],
        "action": action,
        "ts": now_ms(),
        "is_video": bool(options.get("video", False)),
        "is_group": False,
    }
    return call_id, net.notify(net.accounts.get(callee, set()), frame)


def change_group(
    net: Network,
    group_jid: str,
    action: str,
    participants: list[str],
    by: str | None,
    subject: str | None = None,
) -> Group:
    """Apply a membership or subject change and tell every member's devices."""
    if action == "create":
        group = _create(net, group_jid, participants, by, subject)
        told, action = set(group.members), "joined"
    else:
        group = _group(net, group_jid)
        told = _apply(group, action, set(participants), subject) | group.members
    shown = group.subject if action in ("joined", "subject") else None
    groups.tell(net, group, told, action, participants, by, subject=shown)
    return group


def _create(
    net: Network, group_jid: str, participants: list[str], by: str | None, subject: str | None
) -> Group:
    if group_jid in net.groups:
        raise OpError("conflict", f"group {group_jid} already exists")
    members = set(participants) | ({by} if by else set())
    if not members:
        raise OpError("bad_request", "a new group needs participants")
    group = Group(group_jid, members, {by} if by else set(), subject or "", by, created_at=now_ms())
    net.groups[group_jid] = group
    return group


def _apply(group: Group, action: str, phones: set[str], subject: str | None) -> set[str]:
    """Change `group`; returns who must hear about it besides the members after the change."""
    if action == "add":
        group.members |= phones
    elif action == "remove":
        group.members -= phones
        group.admins -= phones
        return phones
    elif action in ("promote", "demote"):
        missing = phones - group.members
        if missing:
            raise OpError("bad_request", f"not members of {group.jid}: {sorted(missing)}")
        group.admins = group.admins | phones if action == "promote" else group.admins - phones
    else:
        if not subject:
            raise OpError("bad_request", "subject is required")
        group.subject = subject
    return set()


def _group(net: Network, group_jid: str) -> Group:
    group = net.groups.get(group_jid)
    if group is None:
        raise OpError("not_found", f"group {group_jid} does not exist")
    return group


def _devices_of(net: Network, phones: set[str]) -> set[str]:
    devices: set[str] = set()
    for phone in phones:
        devices |= net.accounts.get(phone, set())
    return devices
