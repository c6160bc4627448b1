"""The device WebSocket (`/ws`): one zaphubd session per connection.

A connection starts with `hello`. With valid credentials the device is connected at once and
gets what waited for it; with revoked or unknown ones it is told it is logged out; without
any it is shown QR codes. Frames are handled synchronously in arrival order; a frame that
cannot be understood is answered with an error frame and never ends the connection.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from zaphubd.simnet import chats, contacts, group_ops, login, messaging, social
from zaphubd.simnet.link import Link
from zaphubd.simnet.model import Device
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import (
    MAX_MESSAGE_BYTES,
    Frame,
    OpError,
    ProtocolError,
    decode_batch,
)
from zaphubd.simnet.requests import Handler, online, text
from zaphubd.simnet.tasks import spawn

log = logging.getLogger("zaphubd.simnet")

HEARTBEAT_S = 30.0


def make_ws_handler(net: Network) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if net.faults.refuse_connections:
            raise web.HTTPServiceUnavailable(text="simnet refuses connections (injected fault)")
        # The heartbeat notices devices that vanished without closing (their link goes offline).
        ws = web.WebSocketResponse(
            max_msg_size=MAX_MESSAGE_BYTES, compress=False, heartbeat=HEARTBEAT_S
        )
        await ws.prepare(request)
        net.stats.connections_total += 1
        link = Link(ws, request, next(net.link_numbers))
        net.sockets.add(link)
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                    handle_message(net, link, msg.data)
        finally:
            net.sockets.discard(link)
            net.detach(link)
            await link.finish()
            log.debug("simnet %r closed", link)
        return ws

    return handle


def handle_message(net: Network, link: Link, data: bytes | str) -> None:
    try:
        frames = decode_batch(data)
    except ProtocolError as err:
        link.push({"op": "error", "code": "bad_frame", "message": str(err)})
        return
    for frame in frames:
        dispatch(net, link, frame)


def dispatch(net: Network, link: Link, frame: Frame) -> None:
    """Run one frame's handler and answer its request id; nothing here ends the server."""
    rid = frame.get("r")
    try:
        handler = OPS.get(frame["op"])
        if handler is None:
            raise OpError("bad_frame", f"unknown op {frame['op']!r}")
        data = handler(net, link, frame)
    except OpError as err:
        reply_error(link, rid, err)
    except Exception:
        log.exception("simnet failed on a %r frame", frame.get("op"))
        reply_error(link, rid, OpError("server_error", "internal error", permanent=False))
    else:
        if data is not None and rid is not None:
            link.push({"op": "result", "r": rid, "ok": True, "data": data})


def reply_error(link: Link, rid: Any, err: OpError) -> None:
    if rid is None:
        link.push({"op": "error", "code": err.code, "message": err.message})
    else:
        link.push({"op": "result", "r": rid, "ok": False, "error": err.as_dict()})


def _hello(net: Network, link: Link, frame: Frame) -> None:
    if link.device is not None:
        raise OpError("bad_frame", "hello was already sent")
    device_id = text(frame, "device", max_len=128)
    creds = frame.get("creds")
    if creds is None:
        device = net.attach(link, device_id)
        if device.paired:  # the device lost its credentials: that old link is gone
            net.revoke(device)
        login.start_login(net, link)
        return
    secret = creds.get("secret") if isinstance(creds, dict) else None
    known = net.device_of_secret(secret) if isinstance(secret, str) else None
    if known is None or known.device_id != device_id:
        _refuse(net, link, secret)
    elif frame.get("logout") is True:
        net.revoke(known)
        link.push({"op": "logged_out", "reason": "logged out by the device"})
        spawn(link.close(None), f"simnet-close-{link.number}")
    elif net.ban_of(known.phone) is not None:
        net.attach(link, device_id)
        net.refuse_banned(link, device_id)
    else:
        net.attach(link, device_id)
        net.go_online(link)


def _refuse(net: Network, link: Link, secret: Any) -> None:
    reason = "device removed" if secret in net.revoked else "unknown credentials"
    link.push({"op": "logged_out", "reason": reason})
    spawn(link.close(None), f"simnet-close-{link.number}")


def _send(net: Network, link: Link, frame: Frame) -> None:
    device = online(link)
    latency_s = net.faults.send_latency_ms / 1000
    if latency_s > 0:
        link.delay.add(latency_s, lambda: _finish_send(net, link, device, frame))
    else:
        _finish_send(net, link, device, frame)


def _finish_send(net: Network, link: Link, device: Device, frame: Frame) -> None:
    rid = frame.get("r")
    try:
        data = messaging.accept_send(net, device, frame)
    except OpError as err:
        reply_error(link, rid, err)
        return
    every_n = net.faults.drop_every_n
    net.fault_sends += 1
    if every_n and net.fault_sends % every_n == 0:
        # The message is in; the ack is lost with the connection: an in-doubt send.
        net.stats.drops += 1
        link.abort()
        return
    link.push({"op": "result", "r": rid, "ok": True, "data": data})


def _pair_phone(net: Network, link: Link, frame: Frame) -> Frame:
    return {"code": login.request_pair_code(link, frame.get("phone"))}


def _presence(net: Network, link: Link, frame: Frame) -> Frame:
    device = online(link)
    assert device.phone is not None
    presence = frame.get("presence")
    if presence in social.ACCOUNT_PRESENCE:
        social.account_presence(net, device.phone, presence == "available")
        net.record(device, "presence", presence=presence)
    elif presence in social.CHAT_PRESENCE:
        chat = messaging.parse_jid(frame.get("chat"), "chat")
        social.chat_presence(net, device.phone, chat, str(presence))
        net.record(device, "chat_presence", chat=chat, state=presence)
    else:
        raise OpError("bad_request", "presence must be available, unavailable, composing, ...")
    return {}


def _subscribe(net: Network, link: Link, frame: Frame) -> Frame:
    social.subscribe(net, online(link), messaging.parse_jid(frame.get("jid"), "jid"))
    return {}


def _read(net: Network, link: Link, frame: Frame) -> Frame:
    device = online(link)
    assert device.phone is not None
    chat = messaging.parse_jid(frame.get("chat"), "chat")
    sender = messaging.parse_jid(frame["sender"], "sender") if frame.get("sender") else None
    ids = frame.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise OpError("bad_request", "ids must be a list of message ids")
    count = messaging.mark_read(net, device.phone, ids, sender, "read")
    net.record(device, "read", chat=chat, sender=sender, ids=ids)
    return {"count": count}


def _reject_call(net: Network, link: Link, frame: Frame) -> Frame:
    device = online(link)
    caller = messaging.parse_jid(frame.get("caller"), "caller")
    net.record(device, "reject_call", caller=caller, call_id=text(frame, "call_id"))
    return {}


def _logout(net: Network, link: Link, frame: Frame) -> Frame:
    device = online(link)
    net.record(device, "logout")
    net.revoke(device)
    link.online = False
    spawn(link.close(None), f"simnet-close-{link.number}")
    return {}


def _ack(net: Network, link: Link, frame: Frame) -> None:
    seqs = frame.get("seqs")
    if link.device is not None and isinstance(seqs, list):
        net.ack(link.device, seqs)


def _ping(net: Network, link: Link, frame: Frame) -> Frame:
    """The device's keep-alive (whatsmeow sends an IQ ping every 20-30 s): answered while
    the link carries frames at all."""
    return {}


def _retry(net: Network, link: Link, frame: Frame) -> Frame:
    """A retry receipt for a message this device could not decrypt."""
    return {"resent": messaging.retry(net, online(link), text(frame, "id", max_len=128))}


CORE_OPS: dict[str, Handler] = {
    "retry": _retry,
    "hello": _hello,
    "ping": _ping,
    "send": _send,
    "pair_phone": _pair_phone,
    "presence": _presence,
    "subscribe": _subscribe,
    "read": _read,
    "reject_call": _reject_call,
    "logout": _logout,
    "ack": _ack,
}

#: Every op a device may send: the core ones above, then each feature module's.
OPS: dict[str, Handler] = {**CORE_OPS, **group_ops.OPS, **contacts.OPS, **chats.OPS}
