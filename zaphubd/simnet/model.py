"""simnet's state: devices, accounts' mailboxes, groups, faults and counters.

Accounts are bare phone digits; the JID of an account is `<digits>@s.whatsapp.net`. A device
is one zaphubd session (`device_id` is the session id); once paired it belongs to one account
and holds the secret of its credentials. Events queued for a device (messages, receipts,
group changes) stay in `pending` until the device acknowledges them, so a message that
reached a device which died before handling it is delivered again on the next connect.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zaphubd.simnet.protocol import Frame


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class SimnetConfig:
    """How one simnet server behaves. The QR timings follow WhatsApp unless a test speeds
    them up; `save_delay_s` is how long state changes are collected before one write."""

    qr_first_s: float = 60.0
    qr_next_s: float = 20.0
    qr_max: int = 6
    auto_read_ms: int | None = None
    state_path: Path | None = None
    save_delay_s: float = 1.0


@dataclass(slots=True)
class Device:
    device_id: str
    phone: str | None = None
    secret: str | None = None
    push_name: str | None = None
    logged_out: bool = False
    pending: dict[int, Frame] = field(default_factory=dict)
    next_seq: int = 1
    subscriptions: set[str] = field(default_factory=set)

    @property
    def paired(self) -> bool:
        return self.phone is not None and not self.logged_out

    def enqueue(self, frame: Frame) -> Frame:
        """Give `frame` the next sequence number and keep it until the device acks it."""
        queued = {**frame, "seq": self.next_seq}
        self.pending[self.next_seq] = queued
        self.next_seq += 1
        return queued


@dataclass(slots=True)
class MailboxEntry:
    """One message an account received. `status` only moves forward: delivered -> read."""

    id: str
    sender: str
    chat: str
    type: str
    content: dict[str, Any]
    timestamp: int
    device_id: str | None = None
    push_name: str | None = None
    quoted: dict[str, Any] | None = None
    mentions: list[str] = field(default_factory=list)
    status: str = "delivered"
    read_at: int | None = None
    forwarded: bool = False
    #: Set when the sender edited it (content holds the new text) or revoked it (content
    #: is emptied), as the recipient's app shows it.
    edited_at: int | None = None
    revoked_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("sender")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MailboxEntry:
        values = dict(data)
        values["sender"] = values.pop("from")
        return cls(**values)


@dataclass(slots=True)
class Mailbox:
    entries: list[MailboxEntry] = field(default_factory=list)
    by_id: dict[str, list[MailboxEntry]] = field(default_factory=dict)

    def add(self, entry: MailboxEntry) -> None:
        self.entries.append(entry)
        self.by_id.setdefault(entry.id, []).append(entry)

    def find(self, message_id: str, sender: str | None = None) -> list[MailboxEntry]:
        found = self.by_id.get(message_id, [])
        return [e for e in found if sender is None or e.sender == sender]


@dataclass(slots=True)
class Group:
    """A group: members and admins are phones; `created_by` is the owner (super admin).
    `invite_code` is made on first request; revoked codes are kept (a few) so that joining
    with one is told "revoked", not "invalid", as WhatsApp does."""

    jid: str
    members: set[str] = field(default_factory=set)  # phones
    admins: set[str] = field(default_factory=set)
    subject: str = ""
    created_by: str | None = None
    description: str = ""
    announce: bool = False  # only admins may send
    locked: bool = False  # only admins may edit the group's info
    created_at: int = 0  # ms
    invite_code: str | None = None
    revoked_codes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "jid": self.jid,
            "members": sorted(self.members),
            "admins": sorted(self.admins),
            "subject": self.subject,
            "created_by": self.created_by,
            "description": self.description,
            "announce": self.announce,
            "locked": self.locked,
            "created_at": self.created_at,
            "invite_code": self.invite_code,
            "revoked_codes": list(self.revoked_codes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Group:
        # State files written before descriptions and settings existed lack those keys.
        return cls(
            jid=data["jid"],
            members=set(data["members"]),
            admins=set(data["admins"]),
            subject=data["subject"],
            created_by=data["created_by"],
            description=data.get("description", ""),
            announce=bool(data.get("announce", False)),
            locked=bool(data.get("locked", False)),
            created_at=int(data.get("created_at", 0)),
            invite_code=data.get("invite_code"),
            revoked_codes=list(data.get("revoked_codes", ())),
        )


@dataclass(frozen=True, slots=True)
class Faults:
    """Injected faults; the default value is "no faults"."""

    send_latency_ms: int = 0
    send_error_rate: float = 0.0
    refuse_connections: bool = False
    drop_every_n: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Stats:
    connections_total: int = 0
    sends: int = 0
    duplicates_ignored: int = 0
    send_errors: int = 0
    stored: int = 0
    deliveries: int = 0
    receipts: int = 0
    drops: int = 0
    freezes: int = 0
    retries: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
