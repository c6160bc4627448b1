"""What waits to be sent: per session for the stats routes, and as gauges for /metrics.

Read from Postgres (the send queue) at request or scrape time. The gauges name at most
`label_cap` sessions, those with the most waiting; the rest are summed under
`session="other"`, so a daemon with thousands of sessions exports a bounded number of series.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from zaphubd.db.outbox import NOTHING_PENDING, Backlog, OutboxRepo
from zaphubd.db.sessions import SessionRow
from zaphubd.metrics import Metrics
from zaphubd.sessions.config import SessionConfig
from zaphubd.sessions.lanes import SendLanes

OTHER = "other"


@dataclass(frozen=True, slots=True)
class SendBacklog:
    queued: int
    in_flight: int
    retrying: int
    #: Queued sends held back only by the session's sendRatePerMinute.
    waiting_for_pacing: int
    oldest_queued_at: datetime | None
    #: Of the queued ones, how many the lane holds in memory on this node (its prefetch).
    prefetched_here: int


class BacklogView:
    def __init__(self, outbox: OutboxRepo, lanes: SendLanes, label_cap: int = 50) -> None:
        self._outbox = outbox
        self._lanes = lanes
        self._label_cap = label_cap

    async def of(self, session: SessionRow) -> SendBacklog:
        backlog = await self._outbox.backlog(session.id)
        paced = SessionConfig.from_json(session.config).send_rate_per_minute
        lane = self._lanes.state(session.id)
        return SendBacklog(
            queued=backlog.queued,
            in_flight=backlog.in_flight,
            retrying=backlog.retrying,
            waiting_for_pacing=backlog.queued if paced and session.status == "connected" else 0,
            oldest_queued_at=backlog.oldest_queued_at,
            prefetched_here=lane.held if lane else 0,
        )

    async def counts(self, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, Backlog]:
        """Each of these sessions' pending sends (nothing pending: all zero)."""
        found = await self._outbox.backlogs_of(session_ids)
        return {sid: found.get(sid, NOTHING_PENDING) for sid in session_ids}

    async def totals(self) -> Backlog:
        """Everything waiting, all sessions together."""
        return _sum((await self._outbox.backlogs()).values())

    async def export(self, metrics: Metrics) -> None:
        """Set the backlog gauges (called at scrape time)."""
        backlogs = await self._outbox.backlogs()
        ranked = sorted(backlogs.items(), key=lambda item: item[1].queued, reverse=True)
        named = [(str(sid), b) for sid, b in ranked[: self._label_cap]]
        rest = [b for _, b in ranked[self._label_cap :]]
        if rest:
            named.append((OTHER, _sum(rest)))
        metrics.send_backlog.clear()
        metrics.send_oldest_age.clear()
        for label, backlog in named:
            for state in ("queued", "in_flight", "retrying"):
                metrics.send_backlog.labels(label, state).set(getattr(backlog, state))
            age = age_s(backlog.oldest_queued_at)
            if age is not None:
                metrics.send_oldest_age.labels(label).set(age)
        metrics.send_prefetched.set(self._lanes.held)


def _sum(backlogs: Iterable[Backlog]) -> Backlog:
    items = list(backlogs)
    oldest = [b.oldest_queued_at for b in items if b.oldest_queued_at is not None]
    return Backlog(
        queued=sum(b.queued for b in items),
        in_flight=sum(b.in_flight for b in items),
        retrying=sum(b.retrying for b in items),
        oldest_queued_at=min(oldest) if oldest else None,
    )


def age_s(since: datetime | None) -> float | None:
    return None if since is None else max(0.0, (datetime.now(UTC) - since).total_seconds())
