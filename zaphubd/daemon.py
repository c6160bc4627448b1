"""The composition root: builds everything in order, serves, and shuts down in reverse.

Each resource is a cleanup context of the aiohttp app (open before `yield`, close after), in
dependency order: Postgres (then migrations), Redis, queue consumers, HTTP. aiohttp tears
them down in reverse, and only those that started. This is the only module that knows every
part of the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator

from aiohttp import web

from zaphubd import __version__
from zaphubd.db.database import Database
from zaphubd.db.events import EventRepo
from zaphubd.db.migrations import migrate
from zaphubd.db.sessions import SessionRepo
from zaphubd.errors import ZaphubError
from zaphubd.eventsink import EventSink
from zaphubd.http import appkeys
from zaphubd.http.app import create_app
from zaphubd.metrics import Metrics
from zaphubd.queue.consumer import Consumer, Handler, QueueSpec
from zaphubd.queue.producer import Publisher
from zaphubd.queue.redis import connect_redis
from zaphubd.sessions.commands import SessionCommands
from zaphubd.sessions.lease import LeaseKeeper
from zaphubd.sessions.manager import SessionManager
from zaphubd.sessions.recovery import Recovery
from zaphubd.sessions.runtime import Backoff
from zaphubd.sessions.transitions import Transitions
from zaphubd.sessions.workers import CLOSE_SPEC, INIT_SPEC, SessionWorkers
from zaphubd.settings import Settings
from zaphubd.systemd import Notifier
from zaphubd.tasks import TaskGroup
from zaphubd.transport.factory import build_transport

log = logging.getLogger("zaphubd")


class ListenError(ZaphubError):
    """The HTTP port cannot be bound."""


async def postgres_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    db = await Database.connect(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        startup_timeout_s=settings.startup_timeout_s,
    )
    try:
        async with db.connection() as conn:
            applied = await migrate(conn)
        if applied:
            log.info("database migrated: %s", ", ".join(applied))
        app[appkeys.DB] = db
        yield
    finally:
        await db.close()


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    redis = await connect_redis(settings.redis_url, settings.startup_timeout_s)
    app[appkeys.REDIS] = redis
    app[appkeys.PUBLISHER] = Publisher(redis)
    try:
        yield
    finally:
        await redis.aclose()


async def sessions_ctx(app: web.Application) -> AsyncIterator[None]:
    """The transport and the session engine; closes every socket (no logout) at exit."""
    settings = app[appkeys.SETTINGS]
    transport = build_transport(settings)
    await transport.start()
    repo = SessionRepo(app[appkeys.DB])
    sink = EventSink(EventRepo(app[appkeys.DB]))
    transitions = Transitions(repo, sink)
    leases = LeaseKeeper(app[appkeys.REDIS], settings.node_id, settings.session_lease_ttl_s)
    manager = SessionManager(
        repo=repo,
        transitions=transitions,
        transport=transport,
        leases=leases,
        max_sessions=settings.max_concurrent_sessions,
        backoff=Backoff(settings.reconnect_base_s, settings.reconnect_cap_s),
    )
    app[appkeys.TRANSPORT] = transport
    app[appkeys.SESSION_REPO] = repo
    app[appkeys.EVENT_REPO] = sink.repo
    app[appkeys.EVENT_SINK] = sink
    app[appkeys.TRANSITIONS] = transitions
    app[appkeys.LEASES] = leases
    app[appkeys.SESSIONS] = manager
    app[appkeys.SESSION_COMMANDS] = SessionCommands(
        repo, app[appkeys.PUBLISHER], transitions, manager
    )
    tasks = TaskGroup("sessions")
    tasks.spawn(leases.run(manager.on_lease_lost), "leases")
    try:
        yield
    finally:
        await manager.shutdown()
        await tasks.cancel_all()
        await transport.close()


async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """Queue consumers and recovery; stopped before the sessions they drive."""
    settings = app[appkeys.SETTINGS]
    workers = SessionWorkers(app[appkeys.SESSIONS], app[appkeys.LEASES], app[appkeys.TRANSITIONS])
    consumers = [
        _consumer(app, INIT_SPEC, workers.init),
        _consumer(app, CLOSE_SPEC, workers.close),
    ]
    for consumer in consumers:
        await consumer.start()
    recovery = Recovery(
        app[appkeys.SESSION_REPO],
        app[appkeys.SESSIONS],
        app[appkeys.LEASES],
        starts_per_s=settings.recovery_starts_per_s,
        interval_s=settings.session_lease_ttl_s / 2,
    )
    tasks = TaskGroup("workers")
    tasks.spawn(recovery.run(), "recovery")
    try:
        yield
    finally:
        await tasks.cancel_all()
        budget = settings.shutdown_timeout_s / 2
        await asyncio.gather(*(c.stop(budget) for c in consumers))


def _consumer(app: web.Application, spec: QueueSpec, handler: Handler) -> Consumer:
    settings = app[appkeys.SETTINGS]
    return Consumer(
        app[appkeys.REDIS],
        spec,
        handler,
        consumer_name=settings.node_id,
        visibility_timeout_s=settings.queue_visibility_timeout_s,
        metrics=app[appkeys.METRICS],
    )


def build_app(settings: Settings, metrics: Metrics | None = None) -> web.Application:
    """The whole daemon as an aiohttp app; tests run it the same way `serve` does."""
    app = create_app(settings, metrics or Metrics())
    app.cleanup_ctx.extend([postgres_ctx, redis_ctx, sessions_ctx, workers_ctx])
    return app


async def run_daemon(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then shut down within ZAPHUB_SHUTDOWN_TIMEOUT_S."""
    notifier = Notifier()
    _warn_if_open(settings)
    stop = _stop_on_signals()
    runner = web.AppRunner(build_app(settings), access_log=None, handle_signals=False)
    background = TaskGroup("daemon")
    try:
        notifier.status("starting: connecting to postgres and redis")
        await runner.setup()
        await _listen(runner, settings)
        notifier.ready(f"serving on {settings.http_host}:{settings.http_port}")
        if notifier.watchdog_interval_s:
            background.spawn(notifier.watchdog(), "watchdog")
        log.info(
            "zaphubd %s serving on http://%s:%d (node %s, transport %s)",
            __version__,
            settings.http_host,
            settings.http_port,
            settings.node_id,
            settings.transport,
        )
        await stop.wait()
        log.info("stopping")
        notifier.stopping()
    finally:
        await _shutdown(runner, background, settings.shutdown_timeout_s)


async def _listen(runner: web.AppRunner, settings: Settings) -> None:
    site = web.TCPSite(runner, settings.http_host, settings.http_port, reuse_address=True)
    try:
        await site.start()
    except OSError as err:
        raise ListenError(
            f"cannot listen on {settings.http_host}:{settings.http_port}: {err.strerror or err}"
        ) from err


async def _shutdown(runner: web.AppRunner, background: TaskGroup, timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await runner.cleanup()
    except TimeoutError:
        log.error("shutdown did not finish within %.0fs; exiting anyway", timeout_s)
    finally:
        await background.cancel_all()
    log.info("stopped")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


def _warn_if_open(settings: Settings) -> None:
    if settings.api_key is None:
        log.warning(
            "ZAPHUB_API_KEY is not set: anyone who can reach %s:%d can use the API",
            settings.http_host,
            settings.http_port,
        )
