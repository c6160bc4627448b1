"""One client's neonize events in order, mapped and reported; and what ends a connection.

neonize schedules one task per event on the loop, with no order between them. Our handlers
only stamp the event with its attempt and queue it (in arrival order, since the tasks start
in the order Go scheduled them); one drain task per client maps and reports them in that
order. Every handler and every callback is wrapped: a failure is logged and counted, never
lost. Whatever ends a connection, the client is stopped (whatsmeow would otherwise retry on
its own) before `Disconnected` or `LoggedOut` is reported: the supervisor decides the rest.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from neonize.aioze import events as nev
from neonize.events import UndecryptableMessageEv
from neonize.utils.jid import Jid2String

from zaphubd.jid import phone_of
from zaphubd.transport import neonize_inbound as inbound
from zaphubd.transport import neonize_updates as updates
from zaphubd.transport.base import EventCallback
from zaphubd.transport.events import (
    Connected,
    Disconnected,
    DisconnectReason,
    KeepAlive,
    LoggedOut,
    Qr,
    TransportEvent,
)
from zaphubd.transport.neonize_attempt import Attempt

if TYPE_CHECKING:
    from zaphubd.transport.neonize import NeonizeTransport

log = logging.getLogger("zaphubd.transport.neonize")

Handle = Callable[[Attempt, Any], Awaitable[None]]

#: whatsmeow shows the first QR code for 60 s and each of the next five for 20 s.
FIRST_QR_S = 60.0
NEXT_QR_S = 20.0
_LOGOUT_REASONS = {
    2: "logged out from the phone",
    4: "the main device is gone",
    5: "logged out for an unknown reason",
}


class Dispatcher:
    """Wires each attempt's neonize client, and turns its events into ours."""

    def __init__(
        self,
        transport: NeonizeTransport,
        session_id: uuid.UUID,
        on_event: EventCallback,
        current: Callable[[], Attempt | None],
        stop_attempt: Callable[[Attempt], Awaitable[None]],
        connected: Callable[[], Attempt],
    ) -> None:
        self._transport = transport
        self._session_id = session_id
        self._on_event = on_event
        self._current = current
        self._stop_attempt = stop_attempt
        self._connected = connected
        self._inbox: deque[tuple[Attempt, str, Handle, Any]] = deque()
        self._drain_task: asyncio.Task[None] | None = None
        self._handlers = self._handler_table()

    def wire(self, attempt: Attempt) -> None:
        """Register a handler for every event we map, and for QR codes, on a new client."""
        client = attempt.client
        client.event.qr(self._neonize_handler(attempt, "QR", self._on_qr))
        for event_type, handle in self._handlers.items():
            name = event_type.__name__
            client.event(event_type)(self._neonize_handler(attempt, name, handle))

    def _handler_table(self) -> dict[type[Any], Handle]:
        return {
            nev.ConnectedEv: self._on_connected,
            nev.LoggedOutEv: self._on_logged_out,
            nev.PairStatusEv: self._on_pair_status,
            nev.DisconnectedEv: self._ender("network", "the connection dropped"),
            nev.StreamReplacedEv: self._ender("replaced", "another client opened this account"),
            nev.TemporaryBanEv: self._on_ban,
            nev.ConnectFailureEv: self._on_connect_failure,
            nev.ClientOutdatedEv: self._ender("connect_failure", "this client is outdated"),
            nev.KeepAliveTimeoutEv: self._keepalive(ok=False),
            nev.KeepAliveRestoredEv: self._keepalive(ok=True),
            nev.MessageEv: self._traffic(inbound.map_message_safely),
            UndecryptableMessageEv: self._traffic(inbound.map_undecryptable),
            nev.HistorySyncEv: self._on_history_sync,
            nev.ReceiptEv: self._traffic(updates.map_receipt),
            nev.PresenceEv: self._traffic(updates.map_presence),
            nev.ChatPresenceEv: self._traffic(updates.map_chat_presence),
            nev.CallOfferEv: self._traffic(updates.call_mapper("offer")),
            nev.CallAcceptEv: self._traffic(updates.call_mapper("accept")),
            nev.CallTerminateEv: self._traffic(updates.call_mapper("terminate")),
            nev.JoinedGroupEv: self._traffic(updates.map_joined_group),
            nev.GroupInfoEv: self._traffic(updates.map_group_info),
        }

    def _neonize_handler(
        self, attempt: Attempt, name: str, handle: Handle
    ) -> Callable[[Any, Any], Awaitable[None]]:
        async def on_neonize_event(_client: Any, payload: Any) -> None:
            try:
                attempt.settle()
                self._post(attempt, name, handle, payload)
            except Exception:
                self._handler_failed(name)

        return on_neonize_event

    def _post(self, attempt: Attempt, name: str, handle: Handle, payload: Any) -> None:
        self._inbox.append((attempt, name, handle, payload))
        if self._drain_task is None or self._drain_task.done():
            self._drain_task = asyncio.create_task(
                self._drain(), name=f"neonize-events:{self._session_id}"
            )

    async def _drain(self) -> None:
        while self._inbox:
            attempt, name, handle, payload = self._inbox.popleft()
            if attempt is not self._current() or attempt.ended:
                log.debug(
                    "neonize session %s: dropped %s of ended attempt %d",
                    self._session_id,
                    name,
                    attempt.number,
                )
                continue
            try:
                await handle(attempt, payload)
            except Exception:
                self._handler_failed(name)

    async def _emit(self, event: TransportEvent) -> None:
        try:
            await self._on_event(event)
        except Exception:
            self._handler_failed(f"callback for {type(event).__name__}")

    def _handler_failed(self, name: str) -> None:
        self._transport.metrics.handler_failed()
        log.exception("neonize session %s: handler for %s failed", self._session_id, name)

    def _traffic(self, mapper: inbound.Mapper) -> Handle:
        async def handle(attempt: Attempt, ev: Any) -> None:
            for event in mapper(ev):
                await self._emit(event)

        return handle

    async def _on_history_sync(self, attempt: Attempt, ev: Any) -> None:
        # The account's own JID is the sender of what it sent, as whatsmeow's
        # ParseWebMessage has it; the history chunk itself only says `fromMe`.
        me = attempt.client.me
        for event in inbound.map_history_sync(ev, inbound.optional_jid(me.JID) if me else None):
            await self._emit(event)

    def _keepalive(self, *, ok: bool) -> Handle:
        async def handle(attempt: Attempt, ev: Any) -> None:
            await self._emit(KeepAlive(ok=ok))

        return handle

    # -- connection state events --------------------------------------------------------

    async def _on_qr(self, attempt: Attempt, data: bytes) -> None:
        attempt.qr_count += 1
        attempt.state = "qr"
        valid_s = FIRST_QR_S if attempt.qr_count == 1 else NEXT_QR_S
        attempt.arm_qr_watchdog(valid_s + self._transport.qr_grace_s, self._qr_expired)
        await self._emit(Qr(code=data.decode(), expires_in_s=valid_s))

    def _qr_expired(self, attempt: Attempt, qr_count: int) -> None:
        """No new code after the last one expired, and no login: whatsmeow gave up."""
        if attempt.qr_count == qr_count and attempt.state == "qr" and not attempt.has_me():
            self._post(attempt, "QR timeout", self._ender("qr_timeout", "no QR code scanned"), None)

    def on_task_end(self, attempt: Attempt, outcome: str) -> None:
        """The connect task ended: after connect() returned, that is a disconnect."""
        attempt.settle()
        if attempt.opened and not attempt.ended:
            detail = f"neonize ended the connection: {outcome}"
            self._post(attempt, "connect task end", self._ender("network", detail), None)

    async def _on_connected(self, attempt: Attempt, ev: Any) -> None:
        attempt.state = "connected"
        attempt.disarm()
        me = await self._me(attempt)
        await self._remember(attempt, me.JID)
        jid = inbound.jid_text(me.JID)
        log.info("neonize session %s: connected as %s", self._session_id, jid)
        await self._emit(Connected(jid=jid, phone=phone_of(jid), push_name=me.PushName or None))

    async def _me(self, attempt: Attempt) -> Any:
        """The account's device: neonize sets `client.me` before it delivers any event."""
        if attempt.has_me():
            return attempt.client.me
        async with self._transport.gate.shared("get_me"):
            return await self._connected().client.get_me()

    async def _on_pair_status(self, attempt: Attempt, ev: Any) -> None:
        if ev.Error:
            log.warning("neonize session %s: pairing failed: %s", self._session_id, ev.Error)
        else:
            log.info("neonize session %s: paired as %s", self._session_id, ev.ID.User)
            await self._remember(attempt, ev.ID)

    async def _remember(self, attempt: Attempt, device: Any) -> None:
        """Record the device at once: a node dying between pairing and connecting must not
        leave the next node to pair the session again."""
        if not (attempt.store.shared and device.User):
            return
        try:
            await self._transport.remember_device(self._session_id, Jid2String(device))
        except Exception as err:  # the next connect records it again
            log.warning("neonize session %s: device not recorded: %s", self._session_id, err)

    async def _on_logged_out(self, attempt: Attempt, ev: Any) -> None:
        reason = _LOGOUT_REASONS.get(ev.Reason, "logged out")
        log.warning("neonize session %s: %s", self._session_id, reason)
        await self._stop_attempt(attempt)
        await self._transport.remove_credentials(self._session_id)
        await self._emit(LoggedOut(reason=reason))

    async def _on_ban(self, attempt: Attempt, ev: Any) -> None:
        detail = f"temporary ban (code {ev.Code}) for {ev.Expire} s"
        await self._end(attempt, "banned", detail, retry_after_s=float(ev.Expire))

    async def _on_connect_failure(self, attempt: Attempt, ev: Any) -> None:
        await self._end(attempt, "connect_failure", ev.Message or f"reason {ev.Reason}")

    def _ender(self, reason: DisconnectReason, detail: str) -> Handle:
        async def handle(attempt: Attempt, ev: Any) -> None:
            await self._end(attempt, reason, detail)

        return handle

    async def _end(
        self,
        attempt: Attempt,
        reason: DisconnectReason,
        detail: str,
        retry_after_s: float | None = None,
    ) -> None:
        log.info("neonize session %s: disconnected (%s): %s", self._session_id, reason, detail)
        await self._stop_attempt(attempt)
        await self._emit(Disconnected(reason, detail, retry_after_s))
