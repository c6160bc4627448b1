"""Every session state change: written to `sessions`, recorded in `events`, handed to the sink.

One method per transition of the state machine (DESIGN.md):
`initializing → qr_pending → connected`, `connected → reconnecting → connected | failed`,
`* → logged_out`, `* → disconnected`. A write that fails because Postgres is down is logged
and skipped: the socket keeps running and the next transition writes the current truth.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from zaphubd.db.sessions import SessionRepo
from zaphubd.errors import DependencyUnavailable
from zaphubd.eventsink import EventSink
from zaphubd.transport.events import Connected, Qr

log = logging.getLogger("zaphubd.sessions")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Transitions:
    def __init__(self, repo: SessionRepo, sink: EventSink) -> None:
        self._repo = repo
        self._sink = sink

    async def initializing(self, sid: uuid.UUID, reason: str) -> None:
        await self._apply(
            sid,
            "session.initializing",
            {"reason": reason},
            status="initializing",
            stopped=False,
            resume_after=None,
            retry_count=0,
            error_message=None,
            qr_code=None,
            qr_expires_at=None,
        )

    async def qr(self, sid: uuid.UUID, qr: Qr) -> None:
        now = utcnow()
        expires = now + timedelta(seconds=qr.expires_in_s)
        await self._apply(
            sid,
            "session.qr_generated",
            {"qr_code": qr.code, "expires_at": expires},
            status="qr_pending",
            qr_code=qr.code,
            last_qr_at=now,
            qr_expires_at=expires,
        )

    async def connected(self, sid: uuid.UUID, event: Connected) -> None:
        now = utcnow()
        await self._apply(
            sid,
            "session.connected",
            {"phone_number": event.phone, "push_name": event.push_name},
            status="connected",
            phone_number=event.phone,
            push_name=event.push_name,
            retry_count=0,
            error_message=None,
            resume_after=None,
            qr_code=None,
            qr_expires_at=None,
            connected_at=now,
            last_seen=now,
        )

    async def disconnected(self, sid: uuid.UUID, reason: str, detail: str) -> None:
        """The connection ended (the supervisor decides what follows)."""
        await self._apply(
            sid,
            "session.disconnected",
            {"reason": reason, "detail": detail or None},
            disconnected_at=utcnow(),
        )

    async def reconnecting(self, sid: uuid.UUID, attempt: int, delay_s: float, reason: str) -> None:
        await self._apply(
            sid,
            "session.reconnecting",
            {"attempt": attempt, "delay_s": round(delay_s, 3), "reason": reason},
            status="reconnecting",
            retry_count=attempt,
        )  # an expired QR stays: GET /qr answers 410 until the next login shows a new one

    async def failed(self, sid: uuid.UUID, reason: str, attempts: int) -> None:
        await self._apply(
            sid,
            "session.failed",
            {"reason": reason, "attempts": attempts},
            status="failed",
            error_message=reason,
            qr_code=None,
            qr_expires_at=None,
            disconnected_at=utcnow(),
        )

    async def held(self, sid: uuid.UUID, reason: str, resume_after: datetime) -> None:
        """Down without retrying until `resume_after` (a temporary ban); recovery resumes it
        then, a reconnect earlier. Sends wait meanwhile."""
        await self._apply(
            sid,
            "session.failed",
            {"reason": reason, "attempts": 0, "resume_after": resume_after},
            status="disconnected",
            error_message=reason,
            resume_after=resume_after,
            qr_code=None,
            qr_expires_at=None,
            disconnected_at=utcnow(),
        )

    async def logout_failed(self, sid: uuid.UUID, reason: str) -> None:
        """A deletion whose logout the network did not confirm: the session stays, visible
        again (not `stopped`), so that the failure is seen and not a silent OK."""
        await self._apply(
            sid,
            "session.logout_failed",
            {"reason": reason},
            status="failed",
            error_message=reason,
            stopped=False,
            qr_code=None,
            qr_expires_at=None,
            disconnected_at=utcnow(),
        )

    async def logged_out(self, sid: uuid.UUID, reason: str) -> None:
        await self._apply(
            sid,
            "session.logged_out",
            {"reason": reason},
            status="logged_out",
            error_message=f"logged out: {reason}" if reason else "logged out",
            qr_code=None,
            qr_expires_at=None,
            disconnected_at=utcnow(),
        )

    async def start_failed(self, sid: uuid.UUID, reason: str) -> None:
        await self._apply(sid, "session.start_failed", {"reason": reason}, error_message=reason)

    async def note(self, sid: uuid.UUID, event_type: str, payload: dict[str, Any]) -> None:
        """An event without a state change (pairing code issued...)."""
        await self._apply(sid, event_type, payload)

    async def _apply(
        self, sid: uuid.UUID, event_type: str, payload: dict[str, Any], **columns: Any
    ) -> None:
        try:
            if columns and await self._repo.update(sid, **columns) is None:
                return  # deleted meanwhile: nothing to record
            await self._sink.emit(sid, event_type, payload)
        except DependencyUnavailable as err:
            log.error("could not record %s for session %s: %s", event_type, sid, err)
        status = columns.get("status")
        if status:
            log.info(
                "session %s -> %s (%s)", sid, status, event_type, extra={"session_id": str(sid)}
            )
