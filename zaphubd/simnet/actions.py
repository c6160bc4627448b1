"""Edits and revokes on the network: what WhatsApp allows, and what the recipients then see.

An edit or a revoke travels like any message (a device's `send`, or `POST /control/inbound`
for a phone), with content `{messageId, text}` or `{messageId, participant?}`. Before it is
stored, `check` refuses what WhatsApp refuses:

- an edit: only the message's sender, only a text, within `EDIT_WINDOW_MS` of sending;
- a revoke: the sender, within `REVOKE_WINDOW_MS`; in a group also an admin, for any
  member's message; in a one-to-one chat never the recipient.

Once it is accepted, `apply` changes the original in the recipients' mailboxes (edited text,
or emptied content) and the edit or revoke itself is delivered to their devices, so a zaphubd
session on the other side sees `message.edited` / `message.revoked`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from zaphubd import jid
from zaphubd.simnet.model import MailboxEntry
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import OpError

if TYPE_CHECKING:
    from zaphubd.simnet.messaging import Envelope

#: WhatsApp lets a sender edit a text for 15 minutes.
EDIT_WINDOW_MS = 15 * 60 * 1000
#: "Delete for everyone" is allowed for about two and a half days (60 hours).
REVOKE_WINDOW_MS = 60 * 3600 * 1000
ACTIONS = frozenset({"edit", "revoke"})


def check(net: Network, env: Envelope, readers: list[str]) -> None:
    """Refuse (OpError) an edit or revoke WhatsApp would not accept; nothing for others."""
    kind = env.body.type
    if kind not in ACTIONS:
        return
    target = str(env.body.content["messageId"])
    originals = _originals(net, env, readers, target)
    if not originals:
        raise OpError("not_found", f"no message {target} in this chat")
    if kind == "edit":
        _check_edit(env, originals[0])
    else:
        _check_revoke(net, env, originals[0])


def apply(net: Network, env: Envelope, readers: list[str]) -> None:
    """Change the original as the recipients' apps show it."""
    kind = env.body.type
    if kind not in ACTIONS:
        return
    target = str(env.body.content["messageId"])
    actor = jid.user_jid(env.sender)
    for entry in _originals(net, env, readers, target):
        if kind == "edit" and entry.sender == actor:
            entry.content = {**entry.content, "text": env.body.content["text"]}
            entry.edited_at = env.timestamp
        elif kind == "revoke":
            entry.content = {}
            entry.revoked_at = env.timestamp


def _originals(net: Network, env: Envelope, readers: list[str], target: str) -> list[MailboxEntry]:
    """The original in the mailboxes of this message's readers, then in the actor's own
    (where it is when the actor received it): every copy but its sender's."""
    chat_of = _chat_matcher(net, env)
    phones = [*readers, env.sender]
    found: list[MailboxEntry] = []
    for phone in dict.fromkeys(phones):
        found.extend(e for e in net.mailbox(phone).find(target) if chat_of(phone, e))
    return found


def _chat_matcher(net: Network, env: Envelope) -> Callable[[str, MailboxEntry], bool]:
    """Whether a mailbox entry of `phone` belongs to the chat the action is sent in."""
    if jid.is_group(env.to):
        return lambda phone, entry: entry.chat == env.to
    actor = jid.user_jid(env.sender)
    peer = jid.phone_of(env.to) if not jid.is_lid(env.to) else net.phone_of_lid(env.to)

    def one_to_one(phone: str, entry: MailboxEntry) -> bool:
        if jid.is_group(entry.chat):
            return False
        # In the peer's mailbox the original came from the actor; in the actor's, from the peer.
        if phone == env.sender:
            return peer is not None and entry.sender == jid.user_jid(peer)
        return entry.sender == actor

    return one_to_one


def _check_edit(env: Envelope, original: MailboxEntry) -> None:
    if original.sender != jid.user_jid(env.sender):
        raise OpError("forbidden", "only the sender of a message can edit it")
    if original.type != "text":
        raise OpError("forbidden", f"a {original.type} message cannot be edited, only a text")
    if original.revoked_at is not None:
        raise OpError("forbidden", "a revoked message cannot be edited")
    if env.timestamp - original.timestamp > EDIT_WINDOW_MS:
        raise OpError("forbidden", "a message can only be edited within 15 minutes of sending")


def _check_revoke(net: Network, env: Envelope, original: MailboxEntry) -> None:
    own = original.sender == jid.user_jid(env.sender)
    if not own:
        group = net.groups.get(env.to) if jid.is_group(env.to) else None
        if group is None:
            raise OpError("forbidden", "only the sender can delete a message for everyone here")
        if env.sender not in group.admins:
            raise OpError("forbidden", "only a group admin can delete another member's message")
    if env.timestamp - original.timestamp > REVOKE_WINDOW_MS:
        raise OpError("forbidden", "too late to delete this message for everyone")
