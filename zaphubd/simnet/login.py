"""Logging a device in: rotating QR codes, pairing codes, and completing the pairing.

A device without credentials is shown a QR code valid `qr_first_s`, then a new one every
`qr_next_s`, `qr_max` codes in all; when the last one expires the server ends the login
attempt and closes the socket (the client reports `qr_timeout`). While codes are shown the
device may also ask for a pairing code to type on the phone.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets

from zaphubd.simnet import messaging
from zaphubd.simnet.link import Link
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import OpError
from zaphubd.simnet.tasks import spawn

log = logging.getLogger("zaphubd.simnet")

PAIR_CODE_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
_PHONE = re.compile(r"^[0-9]{6,15}$")


def valid_phone(value: object) -> str:
    """Bare digits of an account (a leading + is tolerated); OpError otherwise."""
    if isinstance(value, str) and _PHONE.match(value.removeprefix("+")):
        return value.removeprefix("+")
    raise OpError("bad_request", "phone must be 6-15 digits")


def new_qr_code() -> str:
    # Shaped like WhatsApp's: a ref and three base64 keys, comma separated.
    keys = ",".join(base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(3))
    return f"2@{secrets.token_urlsafe(24)},{keys}"


def new_pair_code() -> str:
    letters = "".join(secrets.choice(PAIR_CODE_ALPHABET) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def normalise_pair_code(value: str) -> str:
    return value.replace("-", "").replace(" ", "").upper()


def start_login(net: Network, link: Link) -> None:
    link.login_task = spawn(show_qr_codes(net, link), f"simnet-qr-{link.number}")


async def show_qr_codes(net: Network, link: Link) -> None:
    """Rotate the QR codes, then end the login attempt if nobody scanned one."""
    config = net.config
    for index in range(config.qr_max):
        validity_s = config.qr_first_s if index == 0 else config.qr_next_s
        link.qr = new_qr_code()
        link.push({"op": "qr", "code": link.qr, "expires_in_s": validity_s})
        await asyncio.sleep(validity_s)
    link.qr = None
    link.pair_code = None
    device_id = link.device.device_id if link.device else None
    log.info("simnet device %s: no QR code was scanned, login attempt ended", device_id)
    # Closed from its own task: the link's teardown cancels this one and must not cut it short.
    spawn(link.close("qr_timeout"), f"simnet-close-{link.number}")


def request_pair_code(link: Link, phone: object) -> str:
    """A pairing code for `phone`, only while this link is showing QR codes."""
    if not link.waiting_qr:
        raise OpError("not_waiting_qr", "pairing codes are only given while QR codes are shown")
    link.pair_phone = valid_phone(phone)
    code = new_pair_code()
    link.pair_code = normalise_pair_code(code)
    return code


def link_of_qr(net: Network, code: str) -> Link | None:
    return next((link for link in net.links.values() if link.qr and link.qr == code), None)


def link_of_pair_code(net: Network, code: str) -> Link | None:
    wanted = normalise_pair_code(code)
    return next((lk for lk in net.links.values() if lk.pair_code == wanted), None)


async def complete_pairing(net: Network, link: Link, phone: str, push_name: str | None) -> None:
    """The phone accepted this device: stop the QR codes, hand over credentials, go online."""
    assert link.device is not None
    await link.stop_login()
    creds = net.pair(link.device, phone, push_name)
    link.push({"op": "paired", "creds": creds})
    net.go_online(link)
    history = messaging.history_frame(net, phone)
    if history is not None:  # what the account received before this device was linked
        net.deliver(link.device.device_id, history)
