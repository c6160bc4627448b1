"""The neonize transport: zaphubd sessions on WhatsApp through neonize 0.5.2 (whatsmeow).

One `NewAClient` per connect attempt, keyed in neonize by the session id. Its whatsmeow store
is the shared Postgres one (`neonize_store`, ZAPHUB_CREDENTIALS_STORE=postgres) or a sqlite
file at `session_auth_dir(auth_base, session_id) / "store.db"` (0700 directories: `local`,
and any session paired into such a file before, which keeps using it). What the
clients share lives here: the gate every call into neonize takes, the executor that runs the
Go calls, and the counters. NEONIZE.md lists the hazards this design answers; the modules
`neonize_gate`, `neonize_executor`, `neonize_attempt`, `neonize_client` and
`neonize_dispatch` say which.

neonize itself is imported by `start()`, not by this module: importing it loads the Go
runtime, starts a log thread and calls `logging.basicConfig` (a no-op once the daemon's
logging is configured, as `__main__` does first; `zaphubd.log.configure` also replaces any
root handler it finds).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import secrets
import sqlite3
import uuid
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter

from zaphubd.transport import neonize_adopt
from zaphubd.transport.base import (
    EventCallback,
    TransportError,
    remove_auth_dir,
    session_auth_dir,
)
from zaphubd.transport.neonize_executor import NeonizeExecutor
from zaphubd.transport.neonize_gate import Gate, GateObserver
from zaphubd.transport.neonize_store import SharedStore, StoreChoice

if TYPE_CHECKING:
    from zaphubd.transport.neonize_client import NeonizeClient

log = logging.getLogger("zaphubd.transport.neonize")

STORE_FILE = "store.db"


class NeonizeMetrics:
    """The adapter's counters, as attributes and, given a registry, as Prometheus series."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.handler_errors = 0
        self.connect_cycles = 0
        self.lost_threads = 0
        self._series: dict[str, Counter] = {}
        if registry is not None:
            for name, text in (
                ("handler_errors", "Exceptions raised while handling neonize events"),
                ("connect_cycles", "neonize connects started (each leaks a store handle)"),
                ("lost_threads", "Executor threads left blocked inside Go after a stop"),
            ):
                self._series[name] = Counter(f"zaphubd_neonize_{name}", text, registry=registry)

    def handler_failed(self) -> None:
        self._add("handler_errors")

    def connect_started(self) -> None:
        self._add("connect_cycles")

    def thread_lost(self) -> None:
        self._add("lost_threads")

    def _add(self, name: str) -> None:
        setattr(self, name, getattr(self, name) + 1)
        series = self._series.get(name)
        if series is not None:
            series.inc()


class NeonizeTransport:
    """Makes neonize clients; see `transport.base.Transport`."""

    name = "neonize"
    #: neonize 0.5.2's send_message lets whatsmeow choose the message id.
    accepts_message_id = False

    def __init__(
        self,
        auth_dir: Path,
        max_sessions: int,
        *,
        registry: CollectorRegistry | None = None,
        qr_grace_s: float = 10.0,
        stop_settle_s: float = 5.0,
        gate_observer: GateObserver | None = None,
        shared: SharedStore | None = None,
    ) -> None:
        if any(char in str(auth_dir.resolve()) for char in "?#"):
            # neonize opens the store as a `file:<path>?...` URI.
            raise TransportError(f"the auth data directory {auth_dir} may not contain ? or #")
        self.auth_dir = auth_dir
        self.max_sessions = max_sessions
        self.qr_grace_s = qr_grace_s
        self.stop_settle_s = stop_settle_s
        self.gate = Gate(gate_observer)
        self.metrics = NeonizeMetrics(registry)
        self.executor: NeonizeExecutor | None = None
        self._clients: weakref.WeakSet[NeonizeClient] = weakref.WeakSet()
        self._lost: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loaded = False
        self._shared = shared
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Check neonize's install and install the executor before any connect.

        The Go library itself (about 40 MB resident) is loaded by the first client, so a
        daemon without neonize sessions does not pay for it.
        """
        _check_installed()
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.executor = NeonizeExecutor.for_sessions(self.max_sessions)
        loop.set_default_executor(self.executor)
        if self._shared is not None:
            self._sweeper = loop.create_task(
                self._shared.run_sweeps(self._live_store_names), name="neonize-store-sweeps"
            )
        log.info(
            "neonize transport ready: %d sessions, executor of %d threads",
            self.max_sessions,
            self.executor.stats().max_workers,
        )

    async def close(self) -> None:
        """Close every client's connection (credentials stay)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        clients = list(self._clients)
        results = await asyncio.gather(
            *(client.disconnect() for client in clients), return_exceptions=True
        )
        for client, result in zip(clients, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("neonize session %s: close failed: %s", client.session_id, result)

    def new_message_id(self) -> str:
        # whatsmeow's format; never used for sending, since accepts_message_id is False.
        return "3EB0" + secrets.token_hex(9).upper()

    def client(
        self, session_id: uuid.UUID, on_event: EventCallback, *, proxy: str | None = None
    ) -> NeonizeClient:
        if self.executor is None or self._loop is None:
            raise TransportError("the neonize transport is not started")
        self._load_once(self._loop)
        from zaphubd.transport.neonize_client import NeonizeClient

        client = NeonizeClient(self, session_id, on_event, proxy)
        self._clients.add(client)
        return client

    def _load_once(self, loop: asyncio.AbstractEventLoop) -> None:
        """Load the Go library and take neonize's event loop, the first time a client is made.

        It blocks the loop once, for the library's load; every later client finds it loaded.
        """
        if self._loaded:
            return
        _load_neonize()
        _claim_event_loop(loop)
        self._loaded = True
        log.info("neonize loaded (first neonize session)")

    # -- credentials --------------------------------------------------------------------

    def store_path(self, session_id: uuid.UUID) -> Path:
        return session_auth_dir(self.auth_dir, session_id) / STORE_FILE

    def prepare_store(self, session_id: uuid.UUID) -> Path:
        """The session's store path, its directories created private (0700)."""
        self.auth_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = self.store_path(session_id)
        store.parent.mkdir(mode=0o700, exist_ok=True)
        return store

    async def choose_store(self, session_id: uuid.UUID, attempt: int) -> StoreChoice:
        """The shared store; a session's local file is moved there first, and used as it
        is when it cannot be (`neonize_adopt`)."""
        if self._shared is None or not await self._adopted(session_id):
            path = await asyncio.to_thread(self.prepare_store, session_id)
            return StoreChoice(str(path))
        return await self._shared.choose(session_id, attempt)

    async def _adopted(self, session_id: uuid.UUID) -> bool:
        """False only when the session has a local store that stays local."""
        assert self._shared is not None
        if not await self._has_local_device(session_id):
            return True
        store = await asyncio.to_thread(neonize_adopt.inspect, self.store_path(session_id))
        if store is None:
            return False
        await self._open_shared_schema()
        if not await self._shared.adopt(session_id, store):
            return False
        await asyncio.to_thread(remove_auth_dir, self.auth_dir, session_id)
        log.info("neonize session %s: whatsmeow store moved into Postgres", session_id)
        return True

    async def _open_shared_schema(self) -> None:
        """Have whatsmeow create or migrate its tables in the shared schema, once, without
        connecting anywhere (neonize's GetAllDevices opens the store and lists it)."""
        assert self._shared is not None
        if self._shared.migrated:
            return
        from neonize._binder import func_callback_bytes2, gocode
        from neonize.utils.log import log_whatsmeow

        dsn = await self._shared.dsn_for("zwm-migrate")
        callback = func_callback_bytes2(log_whatsmeow)  # referenced until the call returns
        async with self.gate.shared("GetAllDevices"):
            answer = await asyncio.to_thread(gocode.GetAllDevices, dsn.encode(), callback)
        if answer.startswith(b"error:"):
            raise TransportError(f"the shared whatsmeow store: {answer[6:].decode().strip()}")
        self._shared.migrated = True

    async def remember_device(self, session_id: uuid.UUID, jid: str) -> None:
        """The session's device in the shared store, for its next connect on any node."""
        if self._shared is not None:
            await self._shared.remember(session_id, jid)

    def _live_store_names(self) -> list[str]:
        return [name for client in list(self._clients) if (name := client.store_app_name)]

    async def has_credentials(self, session_id: uuid.UUID) -> bool:
        """Whether the session's store holds a paired device."""
        if await self._has_local_device(session_id):
            return True
        return self._shared is not None and await self._shared.device(session_id) is not None

    async def _has_local_device(self, session_id: uuid.UUID) -> bool:
        return await asyncio.to_thread(self._store_has_device, session_id)

    def _store_has_device(self, session_id: uuid.UUID) -> bool:
        store = self.store_path(session_id)
        if not store.is_file():
            return False
        try:
            with contextlib.closing(sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)) as db:
                row = db.execute("SELECT 1 FROM whatsmeow_device LIMIT 1").fetchone()
        except sqlite3.Error as err:  # created but never migrated, locked, damaged...
            log.debug("neonize session %s: store unreadable: %s", session_id, err)
            return False
        return row is not None

    async def remove_credentials(self, session_id: uuid.UUID) -> None:
        """Delete the session's device and directory; its client must be stopped already."""
        if self._shared is not None:
            await self._shared.remove(session_id)
        await asyncio.to_thread(remove_auth_dir, self.auth_dir, session_id)

    # -- lost threads -------------------------------------------------------------------

    def keep_lost(self, neonize_client: Any, session_id: uuid.UUID) -> None:
        """A stopped client's connect never returned: its Go thread is gone for good.

        The Python object stays referenced, since Go may still call its ctypes callbacks.
        """
        self._lost.append(neonize_client)
        self.metrics.thread_lost()
        if self.executor is not None:
            self.executor.replace_lost_worker()
        log.warning(
            "neonize session %s: its connect did not return after stop; one executor "
            "thread is lost (%d so far)",
            session_id,
            self.metrics.lost_threads,
        )


def _check_installed() -> None:
    """Fail at start, not at the first session, when neonize or its Go library is missing.

    Only looks at the files: importing any neonize module loads the library.
    """
    spec = importlib.util.find_spec("neonize")
    if spec is None or spec.origin is None:
        raise TransportError("neonize is not installed")
    package = Path(spec.origin).parent
    if not any(package.glob("neonize-*.so")) and not any(package.glob("neonize-*.dll")):
        # neonize would download it at import: a broken install must fail loudly instead.
        raise TransportError(f"neonize's Go library is missing from {package}; reinstall neonize")


def _load_neonize() -> None:
    # start() checked the install already.
    importlib.import_module("neonize.aioze.client")
    _quiet_neonize_logging()


def _quiet_neonize_logging() -> None:
    neonize_log = logging.getLogger("neonize.utils.log")
    if neonize_log.level == logging.NOTSET:
        # whatsmeow's log level is read from this logger at each connect.
        neonize_log.setLevel(logging.WARNING)
    # Its ffmpeg check warns that media will fail; we never use neonize's ffmpeg helpers.
    logging.getLogger("neonize.utils.ffmpeg").setLevel(logging.ERROR)
    neonize_handler = getattr(importlib.import_module("neonize.utils.log"), "stream_handler", None)
    root = logging.getLogger()
    if neonize_handler in root.handlers and len(root.handlers) > 1:
        root.removeHandler(neonize_handler)  # added by neonize's basicConfig: a duplicate


def _claim_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Make neonize deliver events to `loop`: it keeps one loop per process."""
    from neonize.aioze import events as neonize_events

    current = neonize_events.event_global_loop
    if current is not None and current is not loop and not current.is_closed():
        raise TransportError("neonize already delivers its events to another running loop")
    neonize_events.event_global_loop = loop
