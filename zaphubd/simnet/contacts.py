"""Device requests about contacts and the account's own profile (see accounts.py).

`contacts_check` (which numbers are on WhatsApp, paced per device), `contact_profile` (about
text and picture), `block` / `blocklist`, `own_profile`, `set_profile` (push name, about) and
`set_picture`. A number that is not on WhatsApp is refused with `not_found`, as WhatsApp does.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from zaphubd import jid
from zaphubd.simnet import accounts
from zaphubd.simnet.link import Link
from zaphubd.simnet.messaging import parse_jid
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import Frame, OpError
from zaphubd.simnet.requests import Handler, online, online_phone


def exists(net: Network, phone: str) -> bool:
    """On WhatsApp: paired once, or registered through the control API."""
    return net.on_whatsapp(phone)


def picture_of(net: Network, phone: str) -> Frame | None:
    """`{id, media}` (media: the sha256 its CDN serves it under), or None."""
    profile = net.directory.profiles.get(phone)
    if profile is None or profile.picture_id is None:
        return None
    return {"id": profile.picture_id, "media": profile.picture_sha256}


def describe(net: Network, phone: str) -> Frame:
    """What others see of the account `phone`."""
    profile = net.directory.profiles.get(phone) or accounts.Profile()
    return {
        "jid": jid.user_jid(phone),
        "push_name": net.push_names.get(phone),
        "about": profile.about,
        "about_set_at": profile.about_set_at,
        "picture": picture_of(net, phone),
    }


def _check(net: Network, link: Link, frame: Frame) -> Frame:
    device = online(link)
    numbers = frame.get("numbers")
    if not isinstance(numbers, list) or not 1 <= len(numbers) <= accounts.CHECK_MAX_NUMBERS:
        raise OpError("bad_request", f"numbers must be a list of 1-{accounts.CHECK_MAX_NUMBERS}")
    if not all(isinstance(n, str) and n.isdigit() and 6 <= len(n) <= 15 for n in numbers):
        raise OpError("bad_request", "every number must be 6-15 digits")
    net.directory.pace_check(device.device_id)
    net.record(device, "contacts_check", count=len(numbers))
    results = [
        {"number": n, "exists": exists(net, n), "jid": jid.user_jid(n) if exists(net, n) else None}
        for n in numbers
    ]
    return {"results": results}


def _contact_phone(net: Network, frame: Frame) -> str:
    target = parse_jid(frame.get("jid"), "jid")
    if not jid.is_user(target):
        raise OpError("bad_request", "jid must be a user JID (<digits>@s.whatsapp.net)")
    phone = jid.phone_of(target)
    if not exists(net, phone):
        raise OpError("not_found", f"{phone} is not on WhatsApp")
    return phone


def _contact_profile(net: Network, link: Link, frame: Frame) -> Frame:
    online(link)
    view = describe(net, _contact_phone(net, frame))
    del view["push_name"]  # WhatsApp does not answer a contact's push name here
    return view


def _block(net: Network, link: Link, frame: Frame) -> Frame:
    device, phone = online_phone(link)
    target = _contact_phone(net, frame)
    action = frame.get("action")
    blocked = net.directory.blocked.setdefault(phone, set())
    if action == "block":
        blocked.add(target)
    elif action == "unblock":
        blocked.discard(target)
    else:
        raise OpError("bad_request", "action must be block or unblock")
    net.record(device, action, jid=jid.user_jid(target))
    net.changed()
    return _blocklist(net, link, {})


def _blocklist(net: Network, link: Link, frame: Frame) -> Frame:
    _, phone = online_phone(link)
    return {"jids": [jid.user_jid(p) for p in sorted(net.directory.blocked.get(phone, ()))]}


def _own_profile(net: Network, link: Link, frame: Frame) -> Frame:
    _, phone = online_phone(link)
    return describe(net, phone)


def _set_profile(net: Network, link: Link, frame: Frame) -> Frame:
    device, phone = online_phone(link)
    name = _optional_text(frame, "push_name", accounts.PUSH_NAME_MAX_CHARS, empty=False)
    about = _optional_text(frame, "about", accounts.ABOUT_MAX_CHARS, empty=True)
    if name is not None:
        set_push_name(net, phone, name)
    if about is not None:
        net.directory.set_about(phone, about)
    net.record(device, "set_profile", push_name=name is not None, about=about is not None)
    net.changed()
    return {}


def set_push_name(net: Network, phone: str, name: str) -> None:
    """The account's new push name: its devices' later messages carry it."""
    net.push_names[phone] = name
    for device_id in net.accounts.get(phone, ()):
        net.devices[device_id].push_name = name


def _set_picture(net: Network, link: Link, frame: Frame) -> Frame:
    device, phone = online_phone(link)
    data = decode_picture(frame.get("data"))
    if accounts.picture_mime(data) != "image/jpeg":  # WhatsApp takes JPEG only
        raise OpError("invalid_image", "the picture must be a JPEG image")
    picture_id = net.directory.set_picture(net.media, phone, data)
    net.record(device, "set_picture", id=picture_id)
    net.changed()
    return {"id": picture_id}


def decode_picture(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise OpError("bad_request", "data must be the picture as base64")
    if len(value) > accounts.PICTURE_MAX_BYTES * 4 // 3 + 4:
        raise OpError("bad_request", f"a picture may be at most {accounts.PICTURE_MAX_BYTES} bytes")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise OpError("bad_request", "data is not valid base64") from err
    accounts.picture_mime(data)
    return data


def _optional_text(frame: Frame, name: str, max_len: int, *, empty: bool) -> str | None:
    value = frame.get(name)
    if value is None:
        return None
    low = 0 if empty else 1
    if not isinstance(value, str) or not low <= len(value) <= max_len:
        raise OpError("bad_request", f"{name} must be a string of {low}-{max_len} characters")
    return value


OPS: dict[str, Handler] = {
    "contacts_check": _check,
    "contact_profile": _contact_profile,
    "block": _block,
    "blocklist": _blocklist,
    "own_profile": _own_profile,
    "set_profile": _set_profile,
    "set_picture": _set_picture,
}
