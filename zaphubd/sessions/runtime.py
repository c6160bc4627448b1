"""One running session on this node: its client, its state, and its supervisor loop.

The supervisor connects, waits for the connection to end, and decides: a logout ends the
session for good; a replaced account stops (`failed`: never fight the other client); a
temporarily banned one is held down until its ban ends, then recovery resumes it (coming
back into a ban prolongs it); anything else is
retried after `base * 2^n` (jitter, cap) up to the session's `retryLimit`, then `failed`.
A successful login resets the count. The client never reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from zaphubd.backoff import backoff_delay
from zaphubd.sessions.config import SessionConfig
from zaphubd.sessions.transitions import Transitions, utcnow
from zaphubd.transport.base import Client, ConnectFailed, ProxyFailed, Transport
from zaphubd.transport.events import (
    Connected,
    Disconnected,
    DisconnectReason,
    KeepAlive,
    LoggedOut,
    Qr,
    TransportEvent,
)
from zaphubd.transport.outbound import PresenceType

log = logging.getLogger("zaphubd.sessions")

RuntimeStatus = Literal["connecting", "connected", "disconnected"]
TrafficHandler = Callable[[uuid.UUID, TransportEvent], Awaitable[None]]
Ending = Disconnected | LoggedOut
#: Disconnect reasons after which retrying would only fight another client or a ban.
NO_RETRY = frozenset({"replaced", "banned"})
#: Waited beyond a ban's announced end before coming back (at most, and at most a tenth of
#: the ban), for clocks that disagree.
BAN_MARGIN_S = 60.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """How the supervisor reconnects: the delays, and when an open connection that gets no
    answer counts as dead (`liveness_s` of unanswered keep-alives)."""

    base_s: float = 5.0
    cap_s: float = 300.0
    liveness_s: float = 90.0


class SessionRuntime:
    """Lives from `start()` until its supervisor ends or it is stopped."""

    def __init__(
        self,
        session_id: uuid.UUID,
        config: SessionConfig,
        transport: Transport,
        transitions: Transitions,
        backoff: Backoff,
        traffic: TrafficHandler | None,
        connected: asyncio.Event | None = None,
        owner: Callable[[], bool] | None = None,
    ) -> None:
        self.id = session_id
        self.config = config
        self.status: RuntimeStatus = "connecting"
        self.client: Client = transport.client(session_id, self._on_event, proxy=config.proxy)
        self._transport = transport
        self._transitions = transitions
        self._backoff = backoff
        self._traffic = traffic
        self._ended = asyncio.Event()
        self._ending: Ending | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.connected_event = asyncio.Event()
        #: Whether this node may still act for the session (its lease is fresh): once not,
        #: it writes no state and does not reconnect; the lease keeper stops it.
        self._owner = owner or (lambda: True)
        # Shared with the manager's waiters (send lanes): set while connected.
        self._connected_signal = connected or asyncio.Event()
        self._unanswered: asyncio.TimerHandle | None = None  # keep-alives failing since

    def start(self, on_exit: Callable[[SessionRuntime], Awaitable[None]]) -> None:
        self._task = asyncio.create_task(self._supervise(on_exit), name=f"session:{self.id}")

    async def stop(self, *, logout: bool = False) -> bool:
        """End the supervisor and close the socket (logging the device out when asked);
        False when a logout was asked and could not be confirmed."""
        self._stopping = True
        self._ended.set()
        if self._task and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        confirmed = await self._close(logout)
        self.status = "disconnected"
        return confirmed

    async def _close(self, logout: bool) -> bool:
        try:
            if logout:
                return await self.client.logout()
            await self.client.disconnect()
        except Exception as err:
            log.warning("session %s: closing the connection failed: %s", self.id, err)
            return not logout
        return True

    # -- events from the client ---------------------------------------------------------

    async def _on_event(self, event: TransportEvent) -> None:
        if self._stopping:
            # A stopped runtime's connection may still deliver a late frame (a QR in flight):
            # its state is no longer ours to write.
            return
        if not self._owner() and isinstance(event, Qr | Connected | Disconnected | LoggedOut):
            # Fenced: another node may run the session by now; end quietly, write nothing.
            self._ending = Disconnected("closed")
            self._ended.set()
            return
        if isinstance(event, Qr):
            await self._transitions.qr(self.id, event)
        elif isinstance(event, Connected):
            await self._on_connected(event)
        elif isinstance(event, Disconnected | LoggedOut):
            self._ending = event
            self._ended.set()
        elif isinstance(event, KeepAlive):
            self._on_keepalive(event)
        elif self._traffic is not None:
            await self._traffic(self.id, event)

    def _on_keepalive(self, event: KeepAlive) -> None:
        """The transport's keep-alive went unanswered (or came back): a socket can stay open
        while nothing passes, and the transport may never close it by itself."""
        log.info("session %s: keep-alive %s", self.id, "restored" if event.ok else "timed out")
        if event.ok:
            self._cancel_liveness()
        elif self._unanswered is None:
            loop = asyncio.get_running_loop()
            self._unanswered = loop.call_later(self._backoff.liveness_s, self._declare_dead)

    def _cancel_liveness(self) -> None:
        if self._unanswered is not None:
            self._unanswered.cancel()
            self._unanswered = None

    def _declare_dead(self) -> None:
        self._unanswered = None
        if self.status == "connected" and not self._ended.is_set():
            detail = f"no answer to keep-alives for {self._backoff.liveness_s:g} s"
            log.warning("session %s: connection open but dead (%s): reconnecting", self.id, detail)
            self._ending = Disconnected("keepalive", detail)
            self._ended.set()

    async def _on_connected(self, event: Connected) -> None:
        self.status = "connected"
        self.connected_event.set()
        await self._transitions.connected(self.id, event)
        self._connected_signal.set()
        presence: PresenceType = (
            "available" if self.config.mark_online_on_connect else "unavailable"
        )
        try:
            await self.client.send_presence(presence)
        except Exception as err:
            log.warning("session %s: could not send %s presence: %s", self.id, presence, err)

    # -- the supervisor -----------------------------------------------------------------

    async def _supervise(self, on_exit: Callable[[SessionRuntime], Awaitable[None]]) -> None:
        try:
            await self._loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("session %s: supervisor crashed", self.id)
            await self._transitions.failed(self.id, "internal error in the supervisor", 0)
        finally:
            if not self._stopping:
                await self._close(logout=False)
                self.status = "disconnected"
                await on_exit(self)

    async def _loop(self) -> None:
        failures = 0
        while not self._stopping and self._owner():
            ending, was_connected = await self._connect_once()
            if self._stopping or not self._owner() or await self._is_final(ending):
                return
            assert isinstance(ending, Disconnected)
            failures = 0 if was_connected else failures
            if failures >= self.config.retry_limit or ending.reason == "proxy":
                await self._transitions.failed(self.id, _failure_reason(ending), failures)
                return
            delay = backoff_delay(failures, self._backoff.base_s, self._backoff.cap_s)
            failures += 1
            await self._transitions.reconnecting(self.id, failures, delay, ending.reason)
            await asyncio.sleep(delay)
        if not self._stopping:
            log.warning("session %s: lease no longer fresh; not reconnecting here", self.id)

    async def _connect_once(self) -> tuple[Ending, bool]:
        """One connection attempt, until it ends. Returns how it ended and if it logged in."""
        self._ended.clear()
        self._ending = None
        self.connected_event.clear()
        self.status = "connecting"
        try:
            await self.client.connect()
        except ConnectFailed as err:
            self.status = "disconnected"  # before any state is written about it
            reason: DisconnectReason = "proxy" if isinstance(err, ProxyFailed) else "network"
            return Disconnected(reason, str(err)), False
        await self._ended.wait()
        self._cancel_liveness()
        self.status = "disconnected"
        ending = self._ending or Disconnected("closed")
        if isinstance(ending, Disconnected) and ending.reason == "keepalive":
            await self._close(logout=False)  # declared dead here: the socket is still open
        if isinstance(ending, Disconnected) and not self._stopping:
            await self._transitions.disconnected(self.id, ending.reason, ending.detail)
        return ending, self.connected_event.is_set()

    async def _is_final(self, ending: Ending) -> bool:
        if isinstance(ending, LoggedOut):
            await self._transport.remove_credentials(self.id)
            await self._transitions.logged_out(self.id, ending.reason or "device removed")
            return True
        if ending.reason == "banned" and ending.retry_after_s is not None:
            margin = min(BAN_MARGIN_S, ending.retry_after_s / 10)
            until = utcnow() + timedelta(seconds=ending.retry_after_s + margin)
            await self._transitions.held(self.id, _failure_reason(ending), until)
            return True
        if ending.reason in NO_RETRY:  # another client holds the account: never fight it
            await self._transitions.failed(self.id, _failure_reason(ending), 0)
            return True
        return False


def _failure_reason(ending: Disconnected) -> str:
    reasons = {
        "qr_timeout": "the QR code was not scanned in time",
        "replaced": "the connection was replaced by another client using this account",
        "banned": "the account is temporarily banned",
        "connect_failure": "WhatsApp refused the connection",
        "keepalive": "the server stopped answering",
        "network": "could not reach the WhatsApp network",
        "proxy": "the session's proxy failed (fix config.proxy, then reconnect the session)",
    }
    text = reasons.get(ending.reason, ending.reason)
    return f"{text}: {ending.detail}" if ending.detail else text
