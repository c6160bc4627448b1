"""A session's `config` object (API.md), as the engine reads it.

The API validates the stored JSON (unknown keys are a 400); this reads it with defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_RETRY_LIMIT = 5


@dataclass(frozen=True, slots=True)
class SessionConfig:
    mark_online_on_connect: bool = True
    retry_limit: int = DEFAULT_RETRY_LIMIT
    reject_calls: bool = False
    #: Exact event names and `category.*` wildcards; None sends every event.
    webhook_events: tuple[str, ...] | None = None
    #: Sends per minute for this session; None: no pacing.
    send_rate_per_minute: int | None = None
    #: The proxy of this session's WhatsApp connection and media downloads (`proxies.py`).
    proxy: str | None = None
    #: Keep a copy of inbound media in the media store (`media_store/`).
    store_media: bool = False

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SessionConfig:
        events = raw.get("webhookEvents")
        return cls(
            mark_online_on_connect=bool(raw.get("markOnlineOnConnect", True)),
            retry_limit=int(raw.get("retryLimit", DEFAULT_RETRY_LIMIT)),
            reject_calls=bool(raw.get("rejectCalls", False)),
            webhook_events=tuple(events) if events is not None else None,
            send_rate_per_minute=raw.get("sendRatePerMinute"),
            proxy=raw.get("proxy") or None,
            store_media=bool(raw.get("storeMedia", False)),
        )
