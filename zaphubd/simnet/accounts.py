"""Who is on the simulated WhatsApp: registered accounts, their about text, pictures and
blocklists, and the pace at which a device may ask whether numbers exist.

A number "exists" once an account was paired with it or the control API registered it
(`POST /control/accounts`); any other number is not on WhatsApp, as far as a contact check,
a profile lookup or a block is concerned (sending to it still works, as before: simnet keeps
its mailbox). Pictures are blobs in the media store, served from its CDN (`/media/<sha256>`).
A blocked contact's messages are not delivered to the blocker, as on WhatsApp.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from zaphubd.simnet.media import MediaStore
from zaphubd.simnet.model import now_ms
from zaphubd.simnet.protocol import OpError

#: A device may ask "are these numbers on WhatsApp?" at most once per this many ms (changed
#: with `POST /control/check-limit`); WhatsApp refuses a faster client with a rate-limit error.
CHECK_INTERVAL_MS = 500
#: At most this many numbers in one check request.
CHECK_MAX_NUMBERS = 100
ABOUT_MAX_CHARS = 139  # WhatsApp's limit for the about text
PUSH_NAME_MAX_CHARS = 25  # WhatsApp's limit for a profile name
PICTURE_MAX_BYTES = 5 * 1024 * 1024
_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(slots=True)
class Profile:
    """What others see of an account besides its push name."""

    about: str | None = None
    about_set_at: int | None = None  # ms
    picture_id: str | None = None
    picture_sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "about": self.about,
            "about_set_at": self.about_set_at,
            "picture_id": self.picture_id,
            "picture_sha256": self.picture_sha256,
        }


@dataclass(slots=True)
class Directory:
    """The accounts' side of simnet's state (persisted with the rest, see persist.py)."""

    registered: set[str] = field(default_factory=set)  # phones registered by control API
    profiles: dict[str, Profile] = field(default_factory=dict)
    blocked: dict[str, set[str]] = field(default_factory=dict)  # phone -> phones it blocks
    check_interval_ms: int = CHECK_INTERVAL_MS
    #: device id -> monotonic time of its last check request (not persisted: a restarted
    #: server forgets its rate counters too).
    last_check: dict[str, float] = field(default_factory=dict)

    def profile(self, phone: str) -> Profile:
        found = self.profiles.get(phone)
        if found is None:
            found = self.profiles[phone] = Profile()
        return found

    def blocks(self, blocker: str, sender: str) -> bool:
        """Whether the account `blocker` has blocked `sender` (both phones)."""
        return sender in self.blocked.get(blocker, ())

    def set_about(self, phone: str, about: str) -> None:
        profile = self.profile(phone)
        profile.about, profile.about_set_at = about, now_ms()

    def set_picture(self, media: MediaStore, phone: str, data: bytes) -> str:
        """Store `data` (JPEG or PNG) as the account's picture; its new picture id."""
        mime = picture_mime(data)
        sha256 = hashlib.sha256(data).hexdigest()
        media.put(sha256, data, mime)
        profile = self.profile(phone)
        previous = int(profile.picture_id or 0)
        # WhatsApp's picture ids grow with each change; one per ms is plenty here.
        profile.picture_id = str(max(now_ms(), previous + 1))
        profile.picture_sha256 = sha256
        return profile.picture_id

    def pace_check(self, device_id: str) -> None:
        """Refuse a check request that comes sooner than `check_interval_ms` after the
        device's previous one (the refused request does not count)."""
        now = time.monotonic()
        last = self.last_check.get(device_id)
        if last is not None and (now - last) * 1000 < self.check_interval_ms:
            raise OpError("rate_limited", "too many contact checks, slow down", permanent=False)
        self.last_check[device_id] = now

    def snapshot(self) -> dict[str, Any]:
        return {
            "registered": sorted(self.registered),
            "profiles": {phone: p.as_dict() for phone, p in self.profiles.items()},
            "blocked": {phone: sorted(b) for phone, b in self.blocked.items() if b},
            "check_interval_ms": self.check_interval_ms,
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Directory:
        return cls(
            registered=set(data.get("registered", ())),
            profiles={p: Profile(**v) for p, v in data.get("profiles", {}).items()},
            blocked={p: set(b) for p, b in data.get("blocked", {}).items()},
            check_interval_ms=int(data.get("check_interval_ms", CHECK_INTERVAL_MS)),
        )


def picture_mime(data: bytes) -> str:
    """The picture's type: JPEG (what a device must upload) or PNG (the control API's)."""
    if len(data) > PICTURE_MAX_BYTES:
        raise OpError("bad_request", f"a picture may be at most {PICTURE_MAX_BYTES} bytes")
    if data.startswith(_JPEG):
        return "image/jpeg"
    if data.startswith(_PNG):
        return "image/png"
    raise OpError("invalid_image", "the picture must be a JPEG or PNG image")
