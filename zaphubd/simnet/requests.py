"""What every device request handler needs: the handler type, the logged-in check, and the
checks of a frame's fields. Feature modules (contacts, groups...) define their own `OPS` with
these; `devices.py` merges them into the one table it dispatches from.
"""

from __future__ import annotations

from collections.abc import Callable

from zaphubd.simnet.link import Link
from zaphubd.simnet.model import Device
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import Frame, OpError

#: Handles one frame; a returned frame is the request's result (None: no answer).
Handler = Callable[[Network, Link, Frame], Frame | None]


def online(link: Link) -> Device:
    """The link's device, which must be paired and logged in."""
    if link.device is None or not link.online or link.device.phone is None:
        raise OpError("not_connected", "this device is not logged in", permanent=False)
    return link.device


def online_phone(link: Link) -> tuple[Device, str]:
    """The logged-in device and the phone of its account."""
    device = online(link)
    assert device.phone is not None
    return device, device.phone


def text(frame: Frame, name: str, max_len: int = 255) -> str:
    value = frame.get(name)
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise OpError("bad_request", f"{name} must be a string of 1-{max_len} characters")
    return value
