"""Messages through the network: accept a send, store it, deliver it, report receipts.

One path serves both a device's send and `POST /control/inbound` (a phone sending): the
message is stored once per recipient account's mailbox, queued for that account's devices,
copied as `from_me` to the sender's other devices, and answered with `delivered` receipts
to the sender's devices. A repeated id from the same sender is a duplicate: acknowledged with
the first timestamp and otherwise ignored.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from zaphubd import jid
from zaphubd.simnet import actions
from zaphubd.simnet.content import ContentError, Normalised, normalise
from zaphubd.simnet.model import Device, MailboxEntry, now_ms
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import Frame, OpError, new_message_id


@dataclass(frozen=True, slots=True)
class Envelope:
    """A checked message on its way: who sends it where, and what."""

    id: str
    sender: str  # phone
    to: str  # the JID it was addressed to
    body: Normalised
    timestamp: int
    device_id: str | None = None  # the sending device; None when a phone sends
    push_name: str | None = None
    quoted: dict[str, Any] | None = None
    mentions: tuple[str, ...] = ()
    forwarded: bool = False
    #: The recipients' devices cannot decrypt it: "retry" (the sender's phone sends it again
    #: when a device asks, as WhatsApp's retry receipts do) or "permanent" (it never can).
    undecryptable: str | None = None


#: Undecryptable messages kept for a retry receipt, at most this many (the oldest go first).
MAX_RETRIES_KEPT = 10_000


def accept_send(net: Network, device: Device, frame: Frame) -> Frame:
    """A device's `send`: the ack data (`id`, `ts`, `duplicate`), or an OpError."""
    assert device.phone is not None
    message_id = _message_id(frame.get("id"))
    to = parse_jid(frame.get("to"), "to")
    body = _content(frame.get("msg"))
    quoted = parse_quoted(frame.get("quoted"))
    mentions = parse_jids(frame.get("mentions"), "mentions")
    status_jids = parse_jids(frame.get("status_jids"), "status_jids")
    forwarded = frame.get("forwarded") is True
    if net.faults.send_error_rate and random.random() < net.faults.send_error_rate:
        net.stats.send_errors += 1
        raise OpError("server_error", "injected send error", permanent=False)
    env = Envelope(
        id=message_id,
        sender=device.phone,
        to=to,
        body=body,
        timestamp=now_ms(),
        device_id=device.device_id,
        push_name=device.push_name,
        quoted=quoted,
        mentions=mentions,
        forwarded=forwarded,
    )
    return submit(net, env, status_jids)


def submit(net: Network, env: Envelope, status_jids: tuple[str, ...] = ()) -> Frame:
    """Store and deliver `env` unless its id was seen from this sender; the ack data."""
    net.stats.sends += 1
    first_ts = net.sent.get((env.sender, env.id))
    if first_ts is not None:
        net.stats.duplicates_ignored += 1
        return {"id": env.id, "ts": first_ts, "duplicate": True}
    readers = recipients(net, env, status_jids)
    actions.check(net, env, readers)  # an edit or revoke WhatsApp would refuse
    if not jid.is_group(env.to):  # a block keeps direct messages and statuses away, not groups
        readers = [phone for phone in readers if not net.directory.blocks(phone, env.sender)]
    net.sent[(env.sender, env.id)] = env.timestamp
    actions.apply(net, env, readers)
    if env.body.blob is not None:
        net.media.put(env.body.content["sha256"], env.body.blob, env.body.content["mimeType"])
    # Every recipient sees the same chat: the group, the status list, or the sender.
    seen_as, phone_jid = net.as_seen(env.sender)
    chat = env.to if _is_shared_chat(env.to) else seen_as
    frame = message_frame(env, chat, from_me=False) | {"sender": seen_as}
    if phone_jid is not None:
        frame["sender_alt"] = phone_jid
    for phone in readers:
        _store_and_deliver(net, env, phone, chat, frame)
    _copy_to_own_devices(net, env)
    for phone in readers:
        _delivered_receipt(net, env, phone)
    net.changed()
    return {"id": env.id, "ts": env.timestamp, "duplicate": False}


def recipients(net: Network, env: Envelope, status_jids: tuple[str, ...]) -> list[str]:
    """The phones whose mailboxes get `env`."""
    if env.to == jid.STATUS_BROADCAST:
        if not status_jids:
            raise OpError("bad_request", "status@broadcast needs a statusJidList")
        return list(dict.fromkeys(jid.phone_of(j) for j in status_jids))
    if jid.is_group(env.to):
        group = net.groups.get(env.to)
        if group is None:
            raise OpError("unknown_group", f"group {env.to} does not exist")
        if env.device_id is not None and env.sender not in group.members:
            raise OpError("not_member", f"{env.sender} is not a member of {env.to}")
        if group.announce and env.sender not in group.admins:
            raise OpError("forbidden", f"only admins may send to {env.to} (announce group)")
        return sorted(group.members - {env.sender})
    if jid.is_lid(env.to):
        phone = net.phone_of_lid(env.to)
        if phone is None:
            raise OpError("unknown_lid", f"no account has the LID {env.to}")
        return [phone]
    return [jid.phone_of(env.to)]


def mark_read(
    net: Network, reader: str, message_ids: list[str], sender: str | None, kind: str
) -> int:
    """The account `reader` got/read these messages: update its mailbox, tell the senders."""
    box = net.mailbox(reader)
    count = 0
    for message_id in message_ids:
        for entry in box.find(message_id, sender):
            _receipt_for_entry(net, reader, entry, kind)
            count += 1
    return count


def _store_and_deliver(net: Network, env: Envelope, phone: str, chat: str, frame: Frame) -> None:
    entry = MailboxEntry(
        id=env.id,
        sender=jid.user_jid(env.sender),
        chat=chat,
        type=env.body.type,
        content=env.body.content,
        timestamp=env.timestamp,
        device_id=env.device_id,
        push_name=env.push_name,
        quoted=env.quoted,
        mentions=list(env.mentions),
        forwarded=env.forwarded,
    )
    net.mailbox(phone).add(entry)
    net.stats.stored += 1
    if env.undecryptable is not None:
        frame = _undecryptable(net, env, phone, frame)
    # A message to oneself reaches one's other devices through the from_me copy instead.
    if phone != env.sender:
        net.stats.deliveries += net.deliver_account(phone, frame)
    if net.config.auto_read_ms is not None:
        _schedule_read(net, phone, entry, net.config.auto_read_ms / 1000)


def _undecryptable(net: Network, env: Envelope, phone: str, frame: Frame) -> Frame:
    """What the devices get instead of the message: its id, sender and chat, no content."""
    if env.undecryptable == "retry":
        net.retries[(phone, env.id)] = frame
        while len(net.retries) > MAX_RETRIES_KEPT:
            net.retries.pop(next(iter(net.retries)))
    keys = ("id", "chat", "sender", "ts", "is_group")
    return {"op": "ev", "kind": "undecryptable", **{k: frame[k] for k in keys}}


def retry(net: Network, device: Device, message_id: str) -> bool:
    """A device's retry receipt: the sender sends the message again, decryptable this time,
    when it can (`undecryptable: retry`); True if it was sent again."""
    assert device.phone is not None
    frame = net.retries.pop((device.phone, message_id), None)
    if frame is None:
        return False
    net.deliver(device.device_id, frame)
    net.stats.retries += 1
    return True


#: How many of an account's past messages a newly linked device gets (WhatsApp's initial
#: history sync sends the recent ones).
HISTORY_KEEP = 100


def history_frame(net: Network, phone: str) -> Frame | None:
    """The history sync a newly linked device of `phone` gets: the account's last
    HISTORY_KEEP received messages, by chat; None when there are none."""
    entries = net.mailbox(phone).entries[-HISTORY_KEEP:]
    if not entries:
        return None
    messages = [
        {
            "id": e.id,
            "chat": e.chat,
            "sender": e.sender,
            "type": e.type,
            "content": e.content,
            "ts": e.timestamp,
            "push_name": e.push_name,
            "from_me": False,
            "is_group": jid.is_group(e.chat),
            "quoted": e.quoted,
            "mentions": list(e.mentions),
            "media": None,
        }
        for e in entries
    ]
    chats = {e.chat for e in entries}
    return {"op": "ev", "kind": "history", "conversations": len(chats), "messages": messages}


def _copy_to_own_devices(net: Network, env: Envelope) -> None:
    # WhatsApp shows a message sent from one device (or the phone) on the account's others.
    others = net.accounts.get(env.sender, set()) - {env.device_id}
    if others:
        frame = message_frame(env, env.to, from_me=True)
        net.stats.deliveries += net.deliver_account(env.sender, frame, skip=env.device_id)


def message_frame(env: Envelope, chat: str, from_me: bool) -> Frame:
    content = env.body.content
    media = None
    if env.body.blob is not None:
        content = {k: v for k, v in content.items() if k != "sha256"}
        media = {
            "id": env.body.content["sha256"],
            "kind": env.body.type,
            "mimeType": content["mimeType"],
            "size": content["size"],
            "fileName": content.get("fileName"),
        }
    return {
        "op": "ev",
        "kind": "message",
        "id": env.id,
        "chat": chat,
        "sender": jid.user_jid(env.sender),
        "type": env.body.type,
        "content": content,
        "ts": env.timestamp,
        "push_name": env.push_name,
        "from_me": from_me,
        "is_group": jid.is_group(chat),
        "quoted": env.quoted,
        "mentions": list(env.mentions),
        "media": media,
        "forwarded": env.forwarded,
    }


def _delivered_receipt(net: Network, env: Envelope, reader: str) -> None:
    chat = env.to if _is_shared_chat(env.to) else net.as_seen(reader)[0]
    _send_receipt(net, env.sender, [env.id], chat, reader, "delivered")


def _receipt_for_entry(net: Network, reader: str, entry: MailboxEntry, kind: str) -> None:
    if kind == "read" and entry.status != "read":
        entry.status = "read"
        entry.read_at = now_ms()
        net.changed()
    chat = entry.chat if _is_shared_chat(entry.chat) else net.as_seen(reader)[0]
    _send_receipt(net, jid.phone_of(entry.sender), [entry.id], chat, reader, kind)


def _send_receipt(
    net: Network, to_phone: str, ids: list[str], chat: str, reader: str, kind: str
) -> None:
    reader_jid = net.as_seen(reader)[0]  # a LID-addressed reader shows as its LID
    frame = {
        "op": "ev",
        "kind": "receipt",
        "ids": ids,
        "chat": chat,
        "sender": reader_jid,
        "type": kind,
        "ts": now_ms(),
        "participant": reader_jid if _is_shared_chat(chat) else None,
    }
    net.stats.receipts += net.deliver_account(to_phone, frame)


def _schedule_read(net: Network, phone: str, entry: MailboxEntry, delay_s: float) -> None:
    generation = net.generation

    def read() -> None:
        if net.generation == generation:  # a reset in between forgot this message
            _receipt_for_entry(net, phone, entry, "read")

    asyncio.get_running_loop().call_later(delay_s, read)


def _is_shared_chat(chat: str) -> bool:
    return jid.is_group(chat) or chat == jid.STATUS_BROADCAST


def _message_id(value: Any) -> str:
    if value is None:
        return new_message_id()
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        raise OpError("bad_request", "id must be a string of 1-255 characters")
    return value


def parse_jid(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise OpError("bad_request", f"{name} must be a JID string")
    try:
        return jid.normalize(value)
    except jid.InvalidJid as err:
        raise OpError("bad_request", f"{name} {err}") from err


def parse_jids(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise OpError("bad_request", f"{name} must be a list of JIDs")
    return tuple(parse_jid(item, name + "[]") for item in value)


def _content(value: Any) -> Normalised:
    try:
        return normalise(value)
    except ContentError as err:
        raise OpError("bad_request", str(err)) from err


def parse_quoted(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"messageId": value}
    if not isinstance(value, dict) or not isinstance(value.get("messageId"), str):
        raise OpError("bad_request", "quoted must be a message id or {messageId, ...}")
    return {k: value.get(k) for k in ("messageId", "sender", "text") if value.get(k)}
