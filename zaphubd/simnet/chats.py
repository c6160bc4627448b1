"""Chat settings: each account's archived, pinned and muted chats (WhatsApp's app state).

WhatsApp keeps these per account and syncs them between the account's devices, end-to-end
encrypted: the server stores and forwards the changes without reading them, so it refuses
none for what they say (an unknown chat, a fourth pin: the clients decide). simnet does the
same: a device's `chat_settings` op changes the account's state and tells the account's
other devices; `POST /control/chat-settings` is the phone doing it, told to every device.
A change waits for an offline device like any queued event (app-state sync on reconnect).

State: `net.chat_settings[phone][chat] = {"archived", "pinned", "muted", "muted_until"}`
(`muted_until` in ms, None while muted is forever), persisted with the rest.
"""

from __future__ import annotations

from typing import Any

from zaphubd import jid
from zaphubd.simnet import messaging
from zaphubd.simnet.link import Link
from zaphubd.simnet.model import now_ms
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import Frame, OpError
from zaphubd.simnet.requests import Handler, online_phone

OP = "chat_settings"
#: Chats an account may hold settings for, at most (memory bound: one entry per chat).
MAX_CHATS_PER_ACCOUNT = 100_000
#: A mute's end in ms must fit a JSON number exactly (WhatsApp's is an int64).
MAX_MS = 2**53
DEFAULT: dict[str, Any] = {"archived": False, "pinned": False, "muted": False, "muted_until": None}


def parse_change(frame: Frame) -> dict[str, Any]:
    """The fields a change sets: `archived`, `pinned` (booleans), `mute` ({muted, until})."""
    change: dict[str, Any] = {}
    for name in ("archived", "pinned"):
        if frame.get(name) is not None:
            if not isinstance(frame[name], bool):
                raise OpError("bad_request", f"{name} must be true or false")
            change[name] = frame[name]
    if frame.get("mute") is not None:
        change["mute"] = _mute(frame["mute"])
    if not change:
        raise OpError("bad_request", "give archived, pinned or mute")
    return change


def _mute(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("muted"), bool):
        raise OpError("bad_request", "mute must be {muted: bool, until: ms or null}")
    until = value.get("until")
    if until is not None:
        # Any time: the server cannot read app state, so it cannot refuse a past one.
        if isinstance(until, bool) or not isinstance(until, int) or not 0 <= until < MAX_MS:
            raise OpError("bad_request", "mute.until must be a time in ms")
        if not value["muted"]:
            raise OpError("bad_request", "mute.until only when muted")
    return {"muted": value["muted"], "until": until}


def chat_of(frame: Frame) -> str:
    chat = messaging.parse_jid(frame.get("chat"), "chat")
    if chat == jid.STATUS_BROADCAST:
        raise OpError("bad_request", "status@broadcast is not a chat")
    return chat


def apply(net: Network, phone: str, chat: str, change: dict[str, Any]) -> dict[str, Any]:
    """Set the account's settings of `chat`; returns them."""
    chats = net.chat_settings.setdefault(phone, {})
    if chat not in chats and len(chats) >= MAX_CHATS_PER_ACCOUNT:
        raise OpError("rate_limited", "too many chats with settings on this account")
    current = {**DEFAULT, **chats.get(chat, {})}
    for name in ("archived", "pinned"):
        if name in change:
            current[name] = change[name]
    if "mute" in change:
        current["muted"] = change["mute"]["muted"]
        current["muted_until"] = change["mute"]["until"]
    chats[chat] = current
    net.changed()
    return current


def tell(net: Network, phone: str, chat: str, change: dict[str, Any], skip: str | None) -> int:
    """Queue the change for the account's devices but `skip` (the one that made it)."""
    frame: Frame = {"op": OP, "chat": chat, "ts": now_ms(), **change}
    return net.deliver_account(phone, frame, skip=skip)


def settings_of(net: Network, phone: str) -> dict[str, dict[str, Any]]:
    return {chat: dict(s) for chat, s in net.chat_settings.get(phone, {}).items()}


def _chat_settings(net: Network, link: Link, frame: Frame) -> Frame:
    device, phone = online_phone(link)
    chat = chat_of(frame)
    change = parse_change(frame)
    settings = apply(net, phone, chat, change)
    tell(net, phone, chat, change, skip=device.device_id)
    net.record(device, OP, chat=chat, **change)
    return {"chat": chat, **settings}


OPS: dict[str, Handler] = {OP: _chat_settings}
