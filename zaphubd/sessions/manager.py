"""The SessionManager: which sessions run on this node, and the operations on them.

A session runs here only while this node holds its lease, and never beyond
ZAPHUB_MAX_CONCURRENT_SESSIONS. Operations on one session are serialised by a per-session
lock, so a restart racing a delete cannot leave a socket behind.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from zaphubd.db.sessions import SessionRepo
from zaphubd.errors import SessionNotReady
from zaphubd.sessions.config import SessionConfig
from zaphubd.sessions.lease import LeaseKeeper
from zaphubd.sessions.runtime import Backoff, RuntimeStatus, SessionRuntime, TrafficHandler
from zaphubd.sessions.transitions import Transitions
from zaphubd.transport.base import Client, Transport, TransportError
from zaphubd.transport.events import Connected, TransportEvent

LOGOUT_UNCONFIRMED = (
    "the logout could not be confirmed, so the device may still be linked: remove it on the "
    "phone (Linked devices), then delete the session again with ?force=true"
)
log = logging.getLogger("zaphubd.sessions")

StartResult = Literal["started", "running", "capacity", "elsewhere", "missing"]
#: Told when a session starts running on this node, and when it stops running here.
Started = Callable[[uuid.UUID], None]
Stopped = Callable[[uuid.UUID], Awaitable[None]]
LOGOUT_CONNECT_TIMEOUT_S = 15.0


class SessionManager:
    def __init__(
        self,
        *,
        repo: SessionRepo,
        transitions: Transitions,
        transport: Transport,
        leases: LeaseKeeper,
        max_sessions: int,
        backoff: Backoff,
        traffic: TrafficHandler | None = None,
    ) -> None:
        self.max_sessions = max_sessions
        self._repo = repo
        self._transitions = transitions
        self._transport = transport
        self._leases = leases
        self._backoff = backoff
        self._traffic = traffic
        self._running: dict[uuid.UUID, SessionRuntime] = {}
        self._locks: defaultdict[uuid.UUID, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Outlive each runtime: lanes wait on them across reconnects and restarts.
        self._connected: defaultdict[uuid.UUID, asyncio.Event] = defaultdict(asyncio.Event)
        self._watchers: list[tuple[Started, Stopped]] = []

    # -- queries ---------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self._running)

    @property
    def at_capacity(self) -> bool:
        return len(self._running) >= self.max_sessions

    def get(self, session_id: uuid.UUID) -> SessionRuntime | None:
        return self._running.get(session_id)

    def runtime_status(self, session_id: uuid.UUID) -> RuntimeStatus | None:
        runtime = self._running.get(session_id)
        return runtime.status if runtime else None

    def watch(self, started: Started, stopped: Stopped) -> None:
        """Call `started(id)` when a session starts running here, `stopped(id)` when it ends."""
        self._watchers.append((started, stopped))

    def set_traffic(self, traffic: TrafficHandler) -> None:
        """Where clients' messages, receipts, calls... go (set before any session starts)."""
        self._traffic = traffic

    def connected_client(self, session_id: uuid.UUID) -> Client | None:
        """The client, while connected here and this node's lease is fresh (fencing)."""
        runtime = self._running.get(session_id)
        if runtime is None or runtime.status != "connected":
            return None
        if not self._leases.fresh(session_id):
            return None
        return runtime.client

    async def wait_connected(self, session_id: uuid.UUID) -> Client:
        """The session's client, once it is connected on this node (waits as long as needed)."""
        while True:
            client = self.connected_client(session_id)
            if client is not None:
                return client
            event = self._connected[session_id]
            event.clear()
            await event.wait()

    def send_rate_per_minute(self, session_id: uuid.UUID) -> int | None:
        runtime = self._running.get(session_id)
        return runtime.config.send_rate_per_minute if runtime else None

    def config(self, session_id: uuid.UUID) -> SessionConfig | None:
        runtime = self._running.get(session_id)
        return runtime.config if runtime else None

    def reload_config(self, session_id: uuid.UUID, raw: dict[str, Any]) -> None:
        """Apply a changed config to a running session (retry limit, presence, pacing...)."""
        runtime = self._running.get(session_id)
        if runtime is not None:
            runtime.config = SessionConfig.from_json(raw)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, session_id: uuid.UUID) -> StartResult:
        """Open the session here unless it runs already, here or on another node."""
        async with self._locks[session_id]:
            return await self._start_locked(session_id)

    async def _start_locked(self, session_id: uuid.UUID) -> StartResult:
        if session_id in self._running:
            return "running"
        row = await self._repo.get(session_id)
        if row is None:
            return "missing"
        if self.at_capacity:
            return "capacity"
        if not await self._leases.acquire(session_id):
            return "elsewhere"
        runtime = SessionRuntime(
            session_id,
            SessionConfig.from_json(row.config),
            self._transport,
            self._transitions,
            self._backoff,
            self._traffic,
            self._connected[session_id],
            owner=lambda: self._leases.fresh(session_id),
        )
        self._running[session_id] = runtime
        runtime.start(self._on_exit)
        for started, _ in self._watchers:
            started(session_id)
        log.info("session %s started on this node (%d running)", session_id, len(self._running))
        return "started"

    async def stop(self, session_id: uuid.UUID, *, logout: bool = False) -> bool:
        """Close the session's socket here; False when it was not running here."""
        async with self._locks[session_id]:
            return await self._stop_locked(session_id, logout=logout) is not None

    async def _stop_locked(self, session_id: uuid.UUID, *, logout: bool) -> bool | None:
        """None when the session did not run here; else whether the logout (if asked) was
        confirmed."""
        runtime = self._running.pop(session_id, None)
        if runtime is None:
            return None
        await self._stopped(session_id)
        confirmed = await runtime.stop(logout=logout)
        await self._leases.release(session_id)
        return confirmed

    async def _stopped(self, session_id: uuid.UUID) -> None:
        for _, stopped in self._watchers:
            await stopped(session_id)

    async def restart(
        self, session_id: uuid.UUID, *, keep_credentials: bool = False
    ) -> StartResult:
        """Stop the socket and start again: with a new QR cycle, or (`keep_credentials`, a
        reconnect) logged in as before when the credentials are still valid."""
        async with self._locks[session_id]:
            await self._stop_locked(session_id, logout=False)
            if not keep_credentials:
                await self._transport.remove_credentials(session_id)
            reason = "reconnect" if keep_credentials else "restart"
            await self._transitions.initializing(session_id, reason)
            return await self._start_locked(session_id)

    async def close(self, session_id: uuid.UUID, *, force: bool = False) -> bool:
        """Stop, log the device out, delete its credentials and every row of the session.

        A logout the network did not confirm keeps the session, `failed` with the reason
        (the device may still be linked), unless `force`. Returns whether it was deleted.
        """
        async with self._locks[session_id]:
            confirmed = await self._stop_locked(session_id, logout=True)
            if confirmed is None:
                confirmed = await self._logout_offline(session_id)
            if not confirmed and not force:
                await self._transitions.logout_failed(session_id, LOGOUT_UNCONFIRMED)
                return False
            await self._transport.remove_credentials(session_id)
            await self._repo.delete(session_id)
        self._locks.pop(session_id, None)
        self._connected.pop(session_id, None)
        log.info("session %s deleted", session_id)
        return True

    async def pair(self, session_id: uuid.UUID, phone: str) -> str:
        """Ask for a pairing code while the session shows QR codes."""
        runtime = self._running.get(session_id)
        if runtime is None or runtime.status == "disconnected":
            raise SessionNotReady("the session is not running; restart it to pair")
        if runtime.status == "connected":
            raise SessionNotReady("the session is already connected")
        try:
            code = await runtime.client.pair_phone(phone)
        except TransportError as err:
            raise SessionNotReady(f"pairing code unavailable: {err}") from err
        await self._transitions.note(
            session_id, "session.pair_code", {"pairing_code": code, "phone": phone}
        )
        return code

    async def shutdown(self) -> None:
        """Close every socket without logging out; the next start resumes them."""
        ids = list(self._running)
        await asyncio.gather(*(self.stop(sid) for sid in ids), return_exceptions=True)
        if ids:
            log.info("closed %d session(s) for shutdown", len(ids))

    async def on_lease_lost(self, session_id: uuid.UUID) -> None:
        runtime = self._running.pop(session_id, None)
        if runtime is not None:
            await self._stopped(session_id)
            await runtime.stop(logout=False)

    async def _on_exit(self, runtime: SessionRuntime) -> None:
        """The supervisor gave up (failed, logged out, halted): free the slot and lease."""
        if self._running.get(runtime.id) is runtime:
            del self._running[runtime.id]
            await self._stopped(runtime.id)
            await self._leases.release(runtime.id)

    async def _logout_offline(self, session_id: uuid.UUID) -> bool:
        """Log a device out that is not connected here: connect with its credentials first.
        True when it was confirmed, or nothing was linked."""
        if not await self._transport.has_credentials(session_id):
            return True
        connected = asyncio.Event()

        async def on_event(event: TransportEvent) -> None:
            if isinstance(event, Connected):
                connected.set()

        row = await self._repo.get(session_id)
        proxy = SessionConfig.from_json(row.config).proxy if row is not None else None
        client = self._transport.client(session_id, on_event, proxy=proxy)
        try:
            await client.connect()
            async with asyncio.timeout(LOGOUT_CONNECT_TIMEOUT_S):
                await connected.wait()
            return await client.logout()
        except (TransportError, TimeoutError) as err:
            log.warning(
                "session %s: could not log the device out (%s); remove it from the phone",
                session_id,
                err,
            )
            await client.disconnect()
            return False
