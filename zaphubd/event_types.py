"""The catalogue of every event zaphubd emits: the one table emitters and the API share.

`EventSink.emit` refuses a name that is not here, and `GET /api/v1/webhook/events` serves this
table, so the catalogue cannot drift from what the code sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    description: str
    payload: MappingProxyType[str, str]

    @property
    def category(self) -> str:
        return self.name.split(".", 1)[0]


def _event(name: str, description: str, **payload: str) -> EventType:
    return EventType(name, description, MappingProxyType(payload))


_ALL = (
    # Sessions
    _event("session.initializing", "the session was created or restarted and is starting"),
    _event(
        "session.qr_generated",
        "a new QR code is ready to scan",
        qr_code="string",
        expires_at="datetime",
    ),
    _event("session.pair_code", "a pairing code was issued", pairing_code="string", phone="string"),
    _event(
        "session.connected",
        "the account is logged in and connected",
        phone_number="string",
        push_name="string?",
    ),
    _event("session.disconnected", "the connection ended", reason="string", detail="string?"),
    _event(
        "session.reconnecting",
        "the supervisor will reconnect after a delay",
        attempt="integer",
        delay_s="number",
        reason="string",
    ),
    _event(
        "session.failed",
        "the session gave up reconnecting or cannot run",
        reason="string",
        attempts="integer",
    ),
    _event("session.logged_out", "the device was removed; credentials deleted", reason="string"),
    _event("session.stopped", "the session was stopped on request", reason="string"),
    _event("session.start_failed", "the session could not be started", reason="string"),
)

CATALOGUE: MappingProxyType[str, EventType] = MappingProxyType({e.name: e for e in _ALL})
CATEGORIES = frozenset(e.category for e in _ALL)


def lookup(name: str) -> EventType:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(f"event type {name!r} is not in the catalogue") from None


def matches(name: str, patterns: list[str] | None) -> bool:
    """Whether `name` passes a filter of exact names and `category.*` wildcards (None: all)."""
    if patterns is None:
        return True
    for pattern in patterns:
        if pattern in ("*", name):
            return True
        if pattern.endswith(".*") and name.startswith(pattern[:-1]):
            return True
    return False


def is_valid_pattern(pattern: str) -> bool:
    if pattern == "*" or pattern in CATALOGUE:
        return True
    return pattern.endswith(".*") and any(n.startswith(pattern[:-1]) for n in CATALOGUE)
