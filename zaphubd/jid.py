"""WhatsApp JIDs: recognise them, and turn bare phone numbers into user JIDs."""

from __future__ import annotations

import re

USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
LID_SERVER = "lid"
STATUS_BROADCAST = "status@broadcast"

_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_USER = re.compile(r"^[0-9]{6,15}(:[0-9]{1,3})?@s\.whatsapp\.net$")
_GROUP = re.compile(r"^[0-9]{6,25}(-[0-9]{6,15})?@g\.us$")
_LID = re.compile(r"^[0-9]{6,25}(:[0-9]{1,3})?@lid$")


class InvalidJid(ValueError):
    """Not a phone number nor a JID zaphubd can address."""


def normalize(value: str) -> str:
    """A JID for `value`: a bare phone number becomes `<digits>@s.whatsapp.net`.

    Accepted: user, group, LID and status-broadcast JIDs, or 6-15 digits with an optional
    leading `+` (spaces, dashes, dots and parentheses are ignored in a phone number).
    """
    text = value.strip()
    if "@" not in text:
        digits = re.sub(r"[\s\-().]", "", text)
        if not _PHONE.match(digits):
            raise InvalidJid("must be a phone number (6-15 digits) or a WhatsApp JID")
        return f"{digits.lstrip('+')}@{USER_SERVER}"
    lowered = text.lower()
    if lowered == STATUS_BROADCAST or any(p.match(lowered) for p in (_USER, _GROUP, _LID)):
        return lowered
    raise InvalidJid("is not a valid WhatsApp JID (<digits>@s.whatsapp.net, <id>@g.us, <id>@lid)")


def phone_of(jid: str) -> str:
    """The bare digits of a user JID (`5511...@s.whatsapp.net` -> `5511...`)."""
    return jid.split("@", 1)[0].split(":", 1)[0]


def is_group(jid: str) -> bool:
    return jid.endswith("@" + GROUP_SERVER)


def is_lid(jid: str | None) -> bool:
    return bool(jid) and str(jid).endswith("@" + LID_SERVER)


def is_user(jid: str | None) -> bool:
    """A phone-number JID (`<digits>@s.whatsapp.net`)."""
    return bool(jid) and str(jid).endswith("@" + USER_SERVER)


def user_jid(phone: str) -> str:
    return f"{phone}@{USER_SERVER}"
