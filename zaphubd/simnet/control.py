"""The control API under `/control`: the phones' side of the network, and its switches.

This module holds the routes about devices and the network itself (pairing, drops, logout,
faults, inspection, reset); control_traffic.py holds those that make phones act (messages,
receipts, presence, calls, groups). SIMNET.md is the public contract of both.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from zaphubd.simnet import login
from zaphubd.simnet import validate as check
from zaphubd.simnet.link import Link
from zaphubd.simnet.model import Device, Faults
from zaphubd.simnet.network import Network
from zaphubd.simnet.validate import Body, ControlError, read_body, reply

log = logging.getLogger("zaphubd.simnet")

#: whatsmeow's TempBanReason 101, "sent to too many people": the default ban code.
TEMP_BAN_CODE = 101


class DeviceRoutes:
    def __init__(self, net: Network) -> None:
        self.net = net

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/control/devices", self.devices)
        app.router.add_post("/control/scan", self.scan)
        app.router.add_post("/control/pair-code", self.pair_code)
        app.router.add_post("/control/drop", self.drop)
        app.router.add_post("/control/freeze", self.freeze)
        app.router.add_post("/control/logout", self.logout)
        app.router.add_post("/control/ban", self.ban)
        app.router.add_get("/control/faults", self.get_faults)
        app.router.add_post("/control/faults", self.set_faults)
        app.router.add_get("/control/mailbox/{phone}", self.mailbox)
        app.router.add_get("/control/activity/{phone}", self.activity)
        app.router.add_get("/control/connections/{device_id}", self.connections)
        app.router.add_get("/control/stats", self.stats)
        app.router.add_post("/control/reset", self.reset)

    async def devices(self, request: web.Request) -> web.Response:
        return reply({"devices": [self.net.describe(d) for d in self.net.devices.values()]})

    async def scan(self, request: web.Request) -> web.Response:
        body = await read_body(request, ("device_id", "qr", "phone", "push_name"))
        phone = check.phone(body, "phone")
        push_name = check.text(body, "push_name", required=False)
        if body.get("qr") is not None:
            link = login.link_of_qr(self.net, check.required_text(body, "qr", 4096))
            if link is None:
                raise ControlError(409, "this QR code is not (or no longer) valid")
        else:
            link = self._link_showing_qr(self._device(body))
        await login.complete_pairing(self.net, link, phone, push_name)
        return reply(self.net.describe(_device_of(link)))

    async def pair_code(self, request: web.Request) -> web.Response:
        body = await read_body(request, ("phone", "code", "push_name"))
        phone = check.phone(body, "phone")
        link = login.link_of_pair_code(self.net, check.required_text(body, "code", 32))
        if link is None:
            raise ControlError(404, "no device is waiting for this pairing code")
        if link.pair_phone != phone:
            raise ControlError(409, "this pairing code was requested for another phone")
        await login.complete_pairing(
            self.net, link, phone, check.text(body, "push_name", required=False)
        )
        return reply(self.net.describe(_device_of(link)))

    async def drop(self, request: web.Request) -> web.Response:
        body = await read_body(request, ("device_id", "all"))
        if check.flag(body, "all"):
            links = list(self.net.sockets)
        else:
            link = self.net.links.get(self._device(body).device_id)
            links = [link] if link is not None else []
        for link in links:
            link.abort()
        self.net.stats.drops += len(links)
        return reply({"dropped": [link.device.device_id for link in links if link.device]})

    async def freeze(self, request: web.Request) -> web.Response:
        """The device's socket stays open and carries nothing more either way."""
        link = self.net.links.get(self._device(await read_body(request, ("device_id",))).device_id)
        if link is None:
            raise ControlError(409, "this device has no connection to freeze")
        link.freeze()
        self.net.stats.freezes += 1
        return reply({"frozen": link.device.device_id if link.device else None})

    async def logout(self, request: web.Request) -> web.Response:
        body = await read_body(request, ("device_id",))
        device = self._device(body)
        link = self.net.links.get(device.device_id)
        was_online = link is not None and link.online
        self.net.revoke(device)
        if link is not None:
            link.online = False
            link.push({"op": "logged_out", "reason": "device removed from the phone"})
            await link.close(None)
        return reply({"device_id": device.device_id, "was_connected": was_online})

    async def ban(self, request: web.Request) -> web.Response:
        """A temporary ban of an account, as WhatsApp gives one; `seconds: 0` lifts it."""
        body = await read_body(request, ("phone", "seconds", "code"))
        phone = check.phone(body, "phone")
        seconds = check.number(body, "seconds", 0, 30 * 86_400)
        code = int(check.number({"code": TEMP_BAN_CODE} | body, "code", 100, 999, integer=True))
        closed = self.net.ban(phone, code, seconds)
        log.info("simnet account %s banned for %s s (code %d)", phone, seconds, code)
        return reply({"phone": phone, "code": code, "seconds": seconds, "closed": closed})

    async def get_faults(self, request: web.Request) -> web.Response:
        return reply(self.net.faults.as_dict())

    async def set_faults(self, request: web.Request) -> web.Response:
        body = await read_body(request, Faults.__dataclass_fields__)
        self.net.faults = Faults(
            send_latency_ms=int(check.number(body, "send_latency_ms", 0, 60_000, integer=True)),
            send_error_rate=float(check.number(body, "send_error_rate", 0, 1)),
            refuse_connections=check.flag(body, "refuse_connections"),
            drop_every_n=int(check.number(body, "drop_every_n", 0, 1_000_000, integer=True)),
        )
        self.net.fault_sends = 0
        log.info("simnet faults set: %s", self.net.faults)
        return reply(self.net.faults.as_dict())

    async def mailbox(self, request: web.Request) -> web.Response:
        phone = _path_phone(request)
        box = self.net.mailboxes.get(phone)
        messages = [entry.as_dict() for entry in box.entries] if box is not None else []
        return reply({"phone": phone, "messages": messages})

    async def activity(self, request: web.Request) -> web.Response:
        phone = _path_phone(request)
        return reply({"phone": phone, "activity": list(self.net.activity.get(phone, ()))})

    async def connections(self, request: web.Request) -> web.Response:
        device_id = request.match_info["device_id"]
        entries = list(self.net.connections.get(device_id, ()))
        return reply({"device_id": device_id, "connections": entries})

    async def stats(self, request: web.Request) -> web.Response:
        net = self.net
        counts: dict[str, Any] = net.stats.as_dict()
        counts["connections"] = sum(1 for link in net.links.values() if link.online)
        counts["sockets"] = len(net.sockets)
        counts["devices"] = len(net.devices)
        counts["mailbox_messages"] = sum(len(box.entries) for box in net.mailboxes.values())
        counts["pending"] = sum(len(d.pending) for d in net.devices.values())
        return reply(counts)

    async def reset(self, request: web.Request) -> web.Response:
        links = list(self.net.sockets)
        self.net.links.clear()
        self.net.reset()
        await asyncio.gather(*(link.close(None) for link in links))
        log.info("simnet reset: forgot everything, closed %d connection(s)", len(links))
        return reply({"reset": True, "closed": len(links)})

    def _device(self, body: Body) -> Device:
        device_id = check.required_text(body, "device_id", 128)
        device = self.net.devices.get(device_id)
        if device is None:
            raise ControlError(404, f"unknown device {device_id}")
        return device

    def _link_showing_qr(self, device: Device) -> Link:
        link = self.net.links.get(device.device_id)
        if link is None or link.qr is None:
            raise ControlError(409, f"device {device.device_id} has no valid QR code")
        return link


def _device_of(link: Link) -> Device:
    assert link.device is not None
    return link.device


def _path_phone(request: web.Request) -> str:
    return check.phone({"phone": request.match_info["phone"]}, "phone")
