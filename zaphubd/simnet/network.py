"""The simulated network: who is paired to which account, who is online, what waits.

`Network` holds the state and the primitives every feature uses: pairing, logging a device
out, and delivering frames to devices (queued until acknowledged, or ephemeral). The send
path (messaging.py), presence/calls/groups (social.py), the device sockets (devices.py) and
the control API (control*.py) are built on these.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from zaphubd.jid import user_jid
from zaphubd.simnet.accounts import Directory
from zaphubd.simnet.link import Link
from zaphubd.simnet.media import MediaStore
from zaphubd.simnet.model import Device, Faults, Group, Mailbox, SimnetConfig, Stats, now_ms
from zaphubd.simnet.protocol import Frame
from zaphubd.simnet.tasks import spawn

log = logging.getLogger("zaphubd.simnet")

ACTIVITY_KEEP = 1000


class Network:
    """All of simnet's state. Every mutation that must survive a restart calls `changed()`."""

    def __init__(self, config: SimnetConfig) -> None:
        self.config = config
        self.faults = Faults()
        self.stats = Stats()
        self.media = MediaStore()
        self.on_change: Callable[[], None] = _nothing
        self.links: dict[str, Link] = {}  # device_id -> its live connection
        self.sockets: set[Link] = set()  # every open connection, named by hello or not
        self.generation = 0
        self.link_numbers = itertools.count(1)
        self.fault_sends = 0  # sends seen since the faults were set, for drop_every_n
        #: (recipient phone, message id) -> the message frame an undecryptable one stands for
        self.retries: dict[tuple[str, str], dict[str, Any]] = {}
        self._init_state()

    def _init_state(self) -> None:
        self.devices: dict[str, Device] = {}
        self.by_secret: dict[str, str] = {}
        self.revoked: set[str] = set()
        self.accounts: dict[str, set[str]] = {}  # phone -> ids of its paired devices
        self.push_names: dict[str, str] = {}
        self.mailboxes: dict[str, Mailbox] = {}
        self.sent: dict[tuple[str, str], int] = {}  # (sender phone, message id) -> server ts
        self.groups: dict[str, Group] = {}
        self.watchers: dict[str, set[str]] = {}  # phone -> devices subscribed to its presence
        self.activity: dict[str, deque[dict[str, Any]]] = {}
        self.connections: dict[str, deque[dict[str, Any]]] = {}
        #: LID-addressed accounts (WhatsApp's privacy addressing): phone -> its LID JID,
        #: and the phones whose number is shared along with the LID.
        self.lids: dict[str, str] = {}
        self.shares_phone: set[str] = set()
        #: Temporarily banned accounts: phone -> (WhatsApp's ban code, monotonic end).
        self.bans: dict[str, tuple[int, float]] = {}
        #: Registered accounts, profiles, blocklists (accounts.py).
        self.directory = Directory()
        #: Each account's chat settings (app state): phone -> chat JID -> settings (chats.py).
        self.chat_settings: dict[str, dict[str, dict[str, Any]]] = {}

    def changed(self) -> None:
        self.on_change()

    def reset(self) -> None:
        """Forget everything (the live sockets are closed by the caller)."""
        self.generation += 1
        self._init_state()
        self.media.clear()
        self.faults = Faults()
        self.fault_sends = 0
        self.stats = Stats()
        self.changed()

    # -- LIDs -------------------------------------------------------------------------------

    def phone_of_lid(self, lid: str) -> str | None:
        return next((phone for phone, known in self.lids.items() if known == lid), None)

    def as_seen(self, phone: str) -> tuple[str, str | None]:
        """How an account appears to others: its LID (with its phone JID when it shares its
        number) if it is LID-addressed, else its phone JID alone."""
        lid = self.lids.get(phone)
        if lid is None:
            return user_jid(phone), None
        return lid, user_jid(phone) if phone in self.shares_phone else None

    # -- devices --------------------------------------------------------------------------

    def state_of(self, device: Device) -> str:
        link = self.links.get(device.device_id)
        if link is not None and link.online:
            return "connected"
        if link is not None and link.waiting_qr:
            return "waiting_qr"
        return "logged_out" if device.logged_out else "offline"

    def describe(self, device: Device) -> dict[str, Any]:
        link = self.links.get(device.device_id)
        return {
            "device_id": device.device_id,
            "state": self.state_of(device),
            "phone": device.phone,
            "push_name": device.push_name,
            "current_qr": link.qr if link is not None else None,
            "pending": len(device.pending),
        }

    def device_of_secret(self, secret: str) -> Device | None:
        device_id = self.by_secret.get(secret)
        return self.devices.get(device_id) if device_id is not None else None

    def attach(self, link: Link, device_id: str) -> Device:
        """Bind `link` to the device; an older connection of the same device is replaced."""
        device = self.devices.setdefault(device_id, Device(device_id))
        old = self.links.get(device_id)
        if old is not None and old is not link:
            log.info("simnet device %s connected again; closing the older connection", device_id)
            old.online = False
            self.note_connection(device.device_id, "replaced", old.number, by=link.number)
            spawn(old.close("replaced"), f"simnet-replace-{old.number}")
        self.links[device_id] = link
        link.device = device
        return device

    def detach(self, link: Link) -> None:
        if link.device is not None and self.links.get(link.device.device_id) is link:
            del self.links[link.device.device_id]
            if link.online:
                self.note_connection(link.device.device_id, "closed", link.number)

    def pair(self, device: Device, phone: str, push_name: str | None) -> Frame:
        """Link `device` to the account `phone`; returns the credentials it must keep."""
        device.phone = phone
        device.secret = secrets.token_urlsafe(32)
        device.push_name = push_name or self.push_names.get(phone) or f"Simnet {phone[-4:]}"
        device.logged_out = False
        self.push_names.setdefault(phone, device.push_name)
        self.by_secret[device.secret] = device.device_id
        self.accounts.setdefault(phone, set()).add(device.device_id)
        self.changed()
        log.info("simnet device %s paired with %s", device.device_id, phone)
        return {
            "device_id": device.device_id,
            "phone": phone,
            "jid": user_jid(phone),
            "push_name": device.push_name,
            "secret": device.secret,
        }

    def go_online(self, link: Link) -> None:
        """Tell a paired device it is connected, then hand it everything that waited."""
        device = link.device
        assert device is not None and device.phone is not None
        link.online = True
        self.note_connection(device.device_id, "online", link.number)
        link.push(
            {
                "op": "connected",
                "jid": user_jid(device.phone),
                "phone": device.phone,
                "push_name": device.push_name,
            }
        )
        for frame in device.pending.values():
            link.push(frame)
        log.info(
            "simnet device %s connected as %s, %d queued event(s) sent",
            device.device_id,
            device.phone,
            len(device.pending),
        )

    def revoke(self, device: Device) -> None:
        """The device is unlinked: its credentials stop working and nothing waits for it."""
        if device.secret is not None:
            self.by_secret.pop(device.secret, None)
            self.revoked.add(device.secret)
        if device.phone is not None:
            self.accounts.get(device.phone, set()).discard(device.device_id)
        for phone in device.subscriptions:
            self.watchers.get(phone, set()).discard(device.device_id)
        device.subscriptions.clear()
        device.pending.clear()
        device.logged_out = True
        self.changed()
        log.info("simnet device %s logged out", device.device_id)

    # -- bans -------------------------------------------------------------------------------

    def ban_of(self, phone: str | None) -> tuple[int, int] | None:
        """(code, whole seconds left) while the account is temporarily banned."""
        ban = self.bans.get(phone) if phone is not None else None
        if ban is None:
            return None
        left = ban[1] - time.monotonic()
        if left <= 0:
            del self.bans[phone]  # type: ignore[arg-type]
            return None
        return ban[0], max(1, round(left))

    def ban(self, phone: str, code: int, seconds: float) -> list[str]:
        """Ban the account for `seconds` (0 lifts the ban), as WhatsApp's temporary bans do:
        its connected devices are closed with the ban, and their logins fail until it ends.
        Returns the devices whose connection was closed."""
        if seconds <= 0:
            self.bans.pop(phone, None)
            return []
        self.bans[phone] = (code, time.monotonic() + seconds)
        closed = []
        for device_id in sorted(self.accounts.get(phone, ())):
            link = self.links.get(device_id)
            if link is not None and link.online:
                self.refuse_banned(link, device_id)
                closed.append(device_id)
        return closed

    def refuse_banned(self, link: Link, device_id: str) -> None:
        """Close `link` with the ban of its account (whatsmeow's TemporaryBan failure)."""
        ban = self.ban_of(self.devices[device_id].phone)
        assert ban is not None
        link.online = False
        self.note_connection(device_id, "banned", link.number)
        extra = {"ban_code": ban[0], "expire_s": ban[1]}
        spawn(link.close("banned", extra=extra), f"simnet-ban-{link.number}")

    # -- delivery -------------------------------------------------------------------------

    def deliver(self, device_id: str, frame: Frame) -> None:
        """Queue `frame` for the device until it acks; push it now when it is online."""
        device = self.devices[device_id]
        queued = device.enqueue(frame)
        link = self.links.get(device_id)
        if link is not None and link.online:
            link.push(queued)
        self.changed()

    def deliver_account(self, phone: str, frame: Frame, skip: str | None = None) -> int:
        """Queue `frame` for every device of the account but `skip`; returns how many."""
        count = 0
        for device_id in self.accounts.get(phone, ()):
            if device_id != skip:
                self.deliver(device_id, frame)
                count += 1
        return count

    def notify(self, device_ids: Iterable[str], frame: Frame) -> int:
        """Push an ephemeral frame (presence, calls) to the online ones only."""
        count = 0
        for device_id in device_ids:
            link = self.links.get(device_id)
            if link is not None and link.online:
                link.push(frame)
                count += 1
        return count

    def ack(self, device: Device, seqs: Iterable[Any]) -> None:
        for seq in seqs:
            if isinstance(seq, int):
                device.pending.pop(seq, None)
        self.changed()

    # -- accounts -------------------------------------------------------------------------

    def mailbox(self, phone: str) -> Mailbox:
        box = self.mailboxes.get(phone)
        if box is None:
            box = self.mailboxes[phone] = Mailbox()
        return box

    def on_whatsapp(self, phone: str) -> bool:
        """Whether the number has a WhatsApp account: paired once, or registered through
        `POST /control/accounts`. Messages to other numbers are still accepted (see
        simnet.md); contact checks, profiles and group changes tell the truth."""
        return phone in self.directory.registered or phone in self.push_names

    def is_paired_account(self, phone: str) -> bool:
        return bool(self.accounts.get(phone))

    def note_connection(self, device_id: str, event: str, link: int, **details: Any) -> None:
        """A logged-in connection of the device came online, was replaced by a newer one,
        or closed: `GET /control/connections/<device_id>` (not persisted)."""
        entries = self.connections.setdefault(device_id, deque(maxlen=ACTIVITY_KEEP))
        entries.append({"at": now_ms(), "event": event, "link": link, **details})

    def record(self, device: Device, action: str, **details: Any) -> None:
        """Note what a device did besides sending, for `GET /control/activity/<phone>`."""
        if device.phone is None:
            return
        entries = self.activity.setdefault(device.phone, deque(maxlen=ACTIVITY_KEEP))
        entries.append({"at": now_ms(), "device_id": device.device_id, "action": action, **details})
        self.changed()


def _nothing() -> None:
    return None
