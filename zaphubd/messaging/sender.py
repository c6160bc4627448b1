"""Sending one stored message: the work a send lane runs for each pending send.

Every attempt asks the lane for a connected client first (waiting without spending attempts),
marks the row `processing` (one more attempt) right before the hand-over, and records the
outcome: `sent` with the WhatsApp id and timestamp; a permanent failure (bad media, invalid
recipient) straight to `dlq`; a transient one `failed` and retried after a backoff, then `dlq`
after the last attempt.

In-doubt sends (DESIGN.md): a row found `processing` that this process did not start was
handed over by a run that died. With a transport that takes our message id, sending it again
is harmless (the network keeps one copy). Without one, ZAPHUB_INDOUBT_SENDS decides: `resend`
(at most one duplicate per session per crash) or `fail` (marked failed, delivery unknown).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Literal

from zaphubd.backoff import backoff_delay
from zaphubd.db.message_amends import MessageAmends
from zaphubd.db.message_batches import UNKNOWN_DELIVERY
from zaphubd.db.messages import MessageRepo, MessageRow
from zaphubd.eventsink import EventSink
from zaphubd.media import MediaError
from zaphubd.messaging.amend import amend_sent
from zaphubd.messaging.content import MediaFetcher, build_outbound
from zaphubd.sessions.lanes import LaneContext
from zaphubd.transport.base import NotConnected, SendFailed, TransportError
from zaphubd.transport.outbound import OutboundMessage

log = logging.getLogger("zaphubd.messaging")

InDoubtPolicy = Literal["resend", "fail"]


@dataclass(frozen=True, slots=True)
class SendPolicy:
    max_attempts: int = 5
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 300.0
    in_doubt: InDoubtPolicy = "resend"
    accepts_message_id: bool = True


class MessageSender:
    def __init__(
        self,
        repo: MessageRepo,
        sink: EventSink,
        media: MediaFetcher,
        policy: SendPolicy,
        amends: MessageAmends,
    ) -> None:
        self._repo = repo
        self._amends = amends
        self._sink = sink
        self._media = media
        self._policy = policy

    async def run(self, lane: LaneContext, row_id: uuid.UUID) -> None:
        """Send the message to the end: sent, dlq, or failed for good. Anything unexpected
        (Postgres down mid-send...) is raised: the lane tries again after a backoff, and the
        row's status tells the next run where it stands."""
        outbound: OutboundMessage | None = None
        first = True
        while True:
            client = await lane.ready()  # waits for the connection: no attempt spent
            claimed = await self._repo.claim(row_id)
            if claimed is None:
                return  # deleted, or finished by an earlier run
            row, previous = claimed
            if first and previous == "processing" and not await self._resolve_in_doubt(row):
                return
            first = False
            try:
                if outbound is None:
                    target_is_ours = await self._targets_ours(row)
                    quoted_is_ours = await self._quotes_ours(row)
                    outbound = await build_outbound(
                        row, self._media, target_is_ours, quoted_is_ours
                    )
                result = await client.send(outbound, row.wa_message_id)
            except (MediaError, TransportError) as err:
                if await self._settle_failure(row, _reason(err), _is_permanent(err)):
                    return
                if not isinstance(err, NotConnected):  # lost connection: ready() waits for it
                    await asyncio.sleep(self._retry_delay(row.attempts))
                continue
            # An edit or revoke changes our stored original once WhatsApp took it (again on
            # a resend: idempotent), before its message.sent says so.
            await amend_sent(self._amends, row, result.timestamp)
            event = await self._repo.mark_sent(row.id, result.message_id, result.timestamp)
            if event is not None:
                await self._sink.notify(event)
            await self._media.release(row)
            return

    async def give_up(self, row_id: uuid.UUID, reason: str) -> None:
        """The lane could not finish this send after many tries: it ends in `dlq`."""
        row = await self._repo.mark_failed(row_id, "dlq", reason)
        if row is not None:
            await self._moved_to_dlq(row, reason)

    async def _settle_failure(self, row: MessageRow, error: str, permanent: bool) -> bool:
        """Record a failed attempt; True when the message is finished (moved to dlq)."""
        if permanent or row.attempts >= self._policy.max_attempts:
            await self._repo.mark_failed(row.id, "dlq", error)
            await self._moved_to_dlq(row, error)
            return True
        await self._repo.mark_failed(row.id, "failed", error)
        await self._sink.emit(
            row.session_id,
            "message.failed",
            {"id": row.id, "messageId": row.message_id, "attempt": row.attempts, "error": error},
        )
        return False

    async def _moved_to_dlq(self, row: MessageRow, error: str) -> None:
        await self._media.release(row)
        await self._sink.emit(
            row.session_id,
            "message.moved_to_dlq",
            {"id": row.id, "messageId": row.message_id, "attempts": row.attempts, "error": error},
        )
        log.warning("message %s moved to dlq after %d attempt(s): %s", row.id, row.attempts, error)

    def _retry_delay(self, attempts: int) -> float:
        p = self._policy
        return backoff_delay(max(0, attempts - 1), p.backoff_base_s, p.backoff_cap_s)

    async def _resolve_in_doubt(self, row: MessageRow) -> bool:
        """A run that died handed this message over: may it be sent again?"""
        if self._policy.accepts_message_id or self._policy.in_doubt == "resend":
            log.info("message %s was in flight when the daemon stopped; sending it again", row.id)
            return True
        await self._repo.mark_failed(row.id, "failed", UNKNOWN_DELIVERY)
        await self._sink.emit(
            row.session_id,
            "message.failed",
            {
                "id": row.id,
                "messageId": row.message_id,
                "attempt": row.attempts,
                "error": UNKNOWN_DELIVERY,
            },
        )
        return False

    async def _quotes_ours(self, row: MessageRow) -> bool:
        """For a reply: whether the message it quotes is one we sent (WhatsApp names the
        quoted message's author, which is then the account itself)."""
        quoted = row.content.get("quoted")
        if not isinstance(quoted, str):
            return False
        return await self._repo.sent_by_us(row.session_id, quoted)

    async def _targets_ours(self, row: MessageRow) -> bool:
        """For a reaction: whether the message it reacts to is one we sent."""
        if row.type != "reaction":
            return False
        target = row.content.get("messageId")
        if not isinstance(target, str):
            return False
        return await self._repo.sent_by_us(row.session_id, target)


def _is_permanent(err: Exception) -> bool:
    return isinstance(err, MediaError | SendFailed) and err.permanent


def _reason(err: Exception) -> str:
    return str(err) or type(err).__name__
