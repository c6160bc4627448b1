"""Groups as WhatsApp runs them: who may change what, per-participant outcomes, invite
codes, joining and leaving. Every change is told to the members' devices (queued, like
messages) as a `group` event; the acting account's own devices hear it too, as on WhatsApp.

The rules simnet enforces (each refusal has a code, see docs/simnet.md):
- a group that does not exist is `not_found`; one the account is not in is `not_member`;
- members, the invite link and the `announce`/`locked` settings are for admins only
  (`forbidden`); subject and description are for any member unless the group is `locked`;
- an `add` of a number that is not on WhatsApp, or of a member, and a remove/promote/demote
  of a non-member, is a per-participant result, not a refusal of the whole change;
- the owner (super admin) cannot be removed or demoted by another admin;
- when the last admin leaves, the remaining member with the lowest number becomes admin
  (WhatsApp promotes someone too; which one it picks is its own choice).
"""

from __future__ import annotations

import secrets
from typing import Any

from zaphubd import jid
from zaphubd.simnet.model import Group, now_ms
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import Frame, OpError

SUBJECT_MAX = 100
DESCRIPTION_MAX = 2048
PARTICIPANTS_MAX = 1024
REVOKED_KEEP = 20
INVITE_PREFIX = "https://chat.whatsapp.com/"
_CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_group_jid(net: Network) -> str:
    while True:
        candidate = f"120363{secrets.randbelow(10**12):012d}@{jid.GROUP_SERVER}"
        if candidate not in net.groups:
            return candidate


def new_invite_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(22))


def is_registered(net: Network, phone: str) -> bool:
    return net.on_whatsapp(phone)


# -- reading ----------------------------------------------------------------------------


def member_group(net: Network, group_jid: str, phone: str) -> Group:
    """The group, which `phone` must be a member of."""
    group = net.groups.get(group_jid)
    if group is None:
        raise OpError("not_found", "that group does not exist")
    if phone not in group.members:
        raise OpError("not_member", "you're not participating in that group")
    return group


def describe(net: Network, group: Group) -> Frame:
    """The group as a member's device sees it."""
    return {
        "jid": group.jid,
        "subject": group.subject,
        "description": group.description,
        "owner": net.as_seen(group.created_by)[0] if group.created_by else None,
        "created_at": group.created_at,
        "announce": group.announce,
        "locked": group.locked,
        "participants": [_participant(net, group, p) for p in sorted(group.members)],
    }


def _participant(net: Network, group: Group, phone: str) -> Frame:
    seen, phone_jid = net.as_seen(phone)
    lid = seen if jid.is_lid(seen) else None
    return {
        "jid": seen,
        "phone": phone_jid if lid else seen,
        "lid": lid,
        "admin": phone in group.admins,
        "super_admin": phone == group.created_by,
    }


def joined(net: Network, phone: str) -> list[Frame]:
    return [describe(net, g) for g in net.groups.values() if phone in g.members]


# -- changes ----------------------------------------------------------------------------


def create(net: Network, owner: str, subject: str, participants: list[str]) -> Group:
    """A new group owned by `owner`; numbers not on WhatsApp are left out, as WhatsApp
    does (its answer lists them with an error)."""
    added = {p for p in participants if is_registered(net, p)} - {owner}
    group = Group(new_group_jid(net), added | {owner}, {owner}, subject, owner, created_at=now_ms())
    net.groups[group.jid] = group
    tell(net, group, group.members, "joined", [], owner, subject=subject)
    return group


def change_participants(
    net: Network, group_jid: str, actor: str, action: str, phones: list[str]
) -> list[Frame]:
    """An admin's add/remove/promote/demote; one result per participant."""
    group = member_group(net, group_jid, actor)
    require_admin(group, actor, "change participants")
    results = [_one_change(net, group, action, phone) for phone in dict.fromkeys(phones)]
    applied = [r["phone"] for r in results if r["status"] == "ok"]
    if applied:
        audience = group.members | (set(applied) if action == "remove" else set())
        tell(net, group, audience, action, applied, actor)
    return [{k: v for k, v in r.items() if k != "phone"} for r in results]


def _one_change(net: Network, group: Group, action: str, phone: str) -> dict[str, Any]:
    status, code = _outcome(net, group, action, phone)
    if status == "ok":
        _apply(group, action, phone)
    result = {"phone": phone, "jid": net.as_seen(phone)[0], "status": status}
    return result | ({"error": code} if code else {})


def _outcome(net: Network, group: Group, action: str, phone: str) -> tuple[str, int | None]:
    member = phone in group.members
    if action == "add":
        if not is_registered(net, phone):
            return "not_on_whatsapp", 404
        return ("already_member", 409) if member else ("ok", None)
    if not member:
        return "not_member", 404
    if action in ("remove", "demote") and phone == group.created_by:
        return "failed", 403  # nobody may remove or demote the group's owner
    return "ok", None


def _apply(group: Group, action: str, phone: str) -> None:
    if action == "add":
        group.members.add(phone)
    elif action == "remove":
        group.members.discard(phone)
        group.admins.discard(phone)
    elif action == "promote":
        group.admins.add(phone)
    else:
        group.admins.discard(phone)


def update(net: Network, group_jid: str, actor: str, frame: Frame) -> Group:
    """Subject, description, announce and locked, all checked before any is applied."""
    group = member_group(net, group_jid, actor)
    changes = _settings(frame)
    if not changes:
        raise OpError("bad_request", "nothing to change")
    if {"announce", "locked"} & changes.keys() or group.locked:
        require_admin(group, actor, "change this group's settings")
    for name, value in changes.items():
        setattr(group, name, value)
        if name == "subject":
            tell(net, group, group.members, "subject", [], actor, subject=value)
        else:
            tell(net, group, group.members, "update", [], actor, details={name: value})
    return group


def _settings(frame: Frame) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name, limit in (("subject", SUBJECT_MAX), ("description", DESCRIPTION_MAX)):
        value = frame.get(name)
        if value is not None:
            if (
                not isinstance(value, str)
                or len(value) > limit
                or (name == "subject" and not value)
            ):
                raise OpError("bad_request", f"{name} must be a string of at most {limit}")
            changes[name] = value
    for name in ("announce", "locked"):
        value = frame.get(name)
        if value is not None:
            if not isinstance(value, bool):
                raise OpError("bad_request", f"{name} must be true or false")
            changes[name] = value
    return changes


def invite_link(net: Network, group_jid: str, actor: str, revoke: bool) -> str:
    """The group's invite link (admins only); `revoke` replaces the code."""
    group = member_group(net, group_jid, actor)
    require_admin(group, actor, "get the group's invite link")
    if revoke and group.invite_code is not None:
        group.revoked_codes = [*group.revoked_codes, group.invite_code][-REVOKED_KEEP:]
        group.invite_code = None
    if group.invite_code is None:
        group.invite_code = new_invite_code()
        if revoke:
            link = INVITE_PREFIX + group.invite_code
            tell(net, group, group.admins, "update", [], actor, details={"inviteLink": link})
        net.changed()
    return INVITE_PREFIX + group.invite_code


def join(net: Network, phone: str, code: str) -> Group:
    """Join by an invite code; a member joining again just gets the group."""
    group = next((g for g in net.groups.values() if g.invite_code == code), None)
    if group is None:
        if any(code in g.revoked_codes for g in net.groups.values()):
            raise OpError("not_found", "that group invite link has been revoked")
        raise OpError("not_found", "that group invite link is not valid")
    if phone not in group.members:
        others = set(group.members)
        group.members.add(phone)
        tell(net, group, others, "add", [phone], None, details={"reason": "invite"})
        tell(net, group, {phone}, "joined", [], None, subject=group.subject)
    return group


def leave(net: Network, group_jid: str, phone: str) -> None:
    group = member_group(net, group_jid, phone)
    audience = set(group.members)
    group.members.discard(phone)
    group.admins.discard(phone)
    tell(net, group, audience, "remove", [phone], phone)
    if group.members and not group.admins:
        heir = min(group.members)
        group.admins.add(heir)
        tell(net, group, group.members, "promote", [heir], None)
    net.changed()


def require_admin(group: Group, phone: str, what: str) -> None:
    if phone not in group.admins:
        raise OpError("forbidden", f"only the group's admins may {what}")


def tell(
    net: Network,
    group: Group,
    phones: set[str],
    action: str,
    participants: list[str],
    by: str | None,
    *,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Queue one group event for every device of `phones` (and save the change)."""
    frame = {
        "op": "ev",
        "kind": "group",
        "group": group.jid,
        "action": action,
        "participants": [net.as_seen(p)[0] for p in participants],
        "by": net.as_seen(by)[0] if by else None,
        "subject": subject,
        "details": details or {},
    }
    for phone in sorted(phones):
        net.deliver_account(phone, frame)
    net.changed()
