"""`--state FILE`: simnet's state survives a restart.

Paired devices and their credentials, revoked credentials, mailboxes, queued deliveries,
groups, subscriptions, the ids already seen (for duplicate detection) and activity are saved
as one JSON file, written atomically (temporary file, fsync, rename). Media blobs go to a
sibling directory `FILE.media/`, one file per sha256, written once. Changes are collected for
`save_delay_s` and written together, never once per send, and once more at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from zaphubd.errors import ConfigError
from zaphubd.simnet.accounts import Directory
from zaphubd.simnet.files import write_atomic
from zaphubd.simnet.model import Device, Group, MailboxEntry
from zaphubd.simnet.network import ACTIVITY_KEEP, Network
from zaphubd.simnet.tasks import spawn

log = logging.getLogger("zaphubd.simnet")

STATE_VERSION = 1


def snapshot(net: Network) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "devices": [_device_dict(d) for d in net.devices.values()],
        "revoked": sorted(net.revoked),
        "push_names": net.push_names,
        "mailboxes": {p: [e.as_dict() for e in box.entries] for p, box in net.mailboxes.items()},
        "sent": [[sender, mid, ts] for (sender, mid), ts in net.sent.items()],
        "groups": [g.as_dict() for g in net.groups.values()],
        "activity": {phone: list(entries) for phone, entries in net.activity.items()},
        "media": net.media.mime_types,
        "lids": net.lids,
        "shares_phone": sorted(net.shares_phone),
        "directory": net.directory.snapshot(),
        "chat_settings": net.chat_settings,
    }


def _device_dict(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "phone": device.phone,
        "secret": device.secret,
        "push_name": device.push_name,
        "logged_out": device.logged_out,
        "pending": list(device.pending.values()),
        "next_seq": device.next_seq,
        "subscriptions": sorted(device.subscriptions),
    }


def restore(net: Network, data: dict[str, Any], media_dir: Path) -> None:
    """Rebuild `net` from a snapshot, with the indexes derived from it."""
    if data.get("version") != STATE_VERSION:
        raise ValueError(f"unsupported state version {data.get('version')!r}")
    for item in data["devices"]:
        _restore_device(net, item)
    net.revoked = set(data["revoked"])
    net.push_names = dict(data["push_names"])
    for phone, entries in data["mailboxes"].items():
        box = net.mailbox(phone)
        for entry in entries:
            box.add(MailboxEntry.from_dict(entry))
    net.sent = {(sender, mid): ts for sender, mid, ts in data["sent"]}
    net.groups = {g["jid"]: Group.from_dict(g) for g in data["groups"]}
    net.activity = {p: deque(e, maxlen=ACTIVITY_KEEP) for p, e in data["activity"].items()}
    for sha256, mime_type in data["media"].items():
        blob_path = media_dir / sha256
        if blob_path.is_file():
            net.media.put(sha256, blob_path.read_bytes(), mime_type)
    net.media.unsaved.clear()
    net.lids = dict(data.get("lids", {}))
    net.shares_phone = set(data.get("shares_phone", ()))
    net.directory = Directory.restore(data.get("directory", {}))
    net.chat_settings = {p: dict(c) for p, c in data.get("chat_settings", {}).items()}


def _restore_device(net: Network, item: dict[str, Any]) -> None:
    pending = {frame["seq"]: frame for frame in item["pending"]}
    device = Device(
        device_id=item["device_id"],
        phone=item["phone"],
        secret=item["secret"],
        push_name=item["push_name"],
        logged_out=item["logged_out"],
        pending=pending,
        next_seq=item["next_seq"],
        subscriptions=set(item["subscriptions"]),
    )
    net.devices[device.device_id] = device
    if device.paired and device.secret is not None and device.phone is not None:
        net.by_secret[device.secret] = device.device_id
        net.accounts.setdefault(device.phone, set()).add(device.device_id)
    for phone in device.subscriptions:
        net.watchers.setdefault(phone, set()).add(device.device_id)


def media_dir_of(path: Path) -> Path:
    return path.with_name(path.name + ".media")


def load_state(net: Network, path: Path) -> None:
    """Fill `net` from `path` if it exists; a file that cannot be read stops the start."""
    if not path.exists():
        log.info("simnet state file %s does not exist yet; starting empty", path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError([f"simnet state directory {path.parent}: {err.strerror}"]) from err
        return
    try:
        restore(net, orjson.loads(path.read_bytes()), media_dir_of(path))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError([f"simnet state file {path} cannot be loaded: {err}"]) from err
    log.info("simnet state loaded from %s: %d device(s)", path, len(net.devices))


def write_state(path: Path, data: bytes, blobs: list[tuple[str, bytes]]) -> None:
    """Write the blobs, then the state file, each atomically (runs in a worker thread)."""
    media_dir = media_dir_of(path)
    if blobs:
        media_dir.mkdir(parents=True, exist_ok=True)
    for sha256, blob in blobs:
        if not (media_dir / sha256).exists():
            write_atomic(media_dir / sha256, blob)
    write_atomic(path, data)


class StateSaver:
    """Debounced saving: `touch()` on every change, one write per `delay_s` at most."""

    def __init__(self, net: Network, path: Path, delay_s: float) -> None:
        self._net = net
        self._path = path
        self._delay_s = delay_s
        self._timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()

    def touch(self) -> None:
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._delay_s, self._due)

    def _due(self) -> None:
        self._timer = None
        spawn(self.save(), "simnet-save")

    async def save(self) -> None:
        async with self._lock:
            # Serialise on the loop (the state is only consistent here), write off it.
            data = orjson.dumps(snapshot(self._net))
            media = self._net.media
            shas = list(media.unsaved)
            media.unsaved.clear()
            blobs = [(sha, media.blobs[sha]) for sha in shas if sha in media.blobs]
            try:
                await asyncio.to_thread(write_state, self._path, data, blobs)
            except OSError:
                media.unsaved.update(shas)
                log.exception("simnet could not save its state to %s", self._path)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.save()
