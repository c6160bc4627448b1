"""The daemon's parts as aiohttp cleanup contexts, in dependency order.

Each context opens its resources before `yield` and closes them after; aiohttp runs them in
the order `daemon.build_app` lists them and tears them down in reverse, only those that
started. Postgres (then migrations) → Redis → sessions → messaging → webhooks → workers: the
workers (queue consumers, recovery, outbox) stop first, then webhook lanes, send lanes, and
the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from zaphubd import __version__
from zaphubd.cluster.owner_calls import OwnerCalls
from zaphubd.cluster.registry import NodeRegistry
from zaphubd.db.api_keys import ApiKeyRepo
from zaphubd.db.calls import CallRepo
from zaphubd.db.chats import ChatRepo
from zaphubd.db.database import Database
from zaphubd.db.event_feed import EventFeed
from zaphubd.db.events import EventRepo, EventRow
from zaphubd.db.lid_map import LidMap
from zaphubd.db.message_amends import MessageAmends
from zaphubd.db.messages import MessageRepo
from zaphubd.db.migrations import migrate
from zaphubd.db.nodes import NodeRepo
from zaphubd.db.outbox import OutboxRepo
from zaphubd.db.sessions import SessionRepo
from zaphubd.db.stored_media import StoredMediaRepo
from zaphubd.eventsink import EventSink
from zaphubd.http import appkeys
from zaphubd.media_store.factory import build_media_store
from zaphubd.messaging.backlog import BacklogView
from zaphubd.messaging.content import MediaFetcher, MediaLimits
from zaphubd.messaging.inbound import InboundHandlers
from zaphubd.messaging.intake import SendIntake
from zaphubd.messaging.media_keeper import MediaKeeper, media_store_spec
from zaphubd.messaging.media_retention import MediaRetention
from zaphubd.messaging.sender import MessageSender, SendPolicy
from zaphubd.messaging.traffic import TrafficRouter
from zaphubd.messaging.uploads import Uploads
from zaphubd.netguard import guarded_session
from zaphubd.queue import keys
from zaphubd.queue.consumer import Consumer, DeadHandler, Handler, QueueSpec
from zaphubd.queue.keymigration import migrate_queue_keys
from zaphubd.queue.producer import Publisher
from zaphubd.queue.redis import connect_redis
from zaphubd.queue.wakeups import Wakeups
from zaphubd.sessions import contacts
from zaphubd.sessions.actions import SessionActions
from zaphubd.sessions.chats import ChatActions
from zaphubd.sessions.commands import SessionCommands
from zaphubd.sessions.groups import GroupActions
from zaphubd.sessions.lanes import LaneSettings, SendLanes
from zaphubd.sessions.lease import LeaseKeeper
from zaphubd.sessions.manager import SessionManager
from zaphubd.sessions.message_reads import MessageReads
from zaphubd.sessions.recovery import Recovery
from zaphubd.sessions.runtime import Backoff
from zaphubd.sessions.transitions import Transitions
from zaphubd.sessions.workers import CLOSE_SPEC, INIT_SPEC, SessionWorkers
from zaphubd.streams.hub import EventHub
from zaphubd.streams.limits import StreamLimits
from zaphubd.streams.revocation import end_revoked_streams
from zaphubd.streams.tokens import StreamTokens
from zaphubd.tasks import TaskGroup
from zaphubd.transport.base import Transport
from zaphubd.transport.chats import ChatSettingsChanged
from zaphubd.transport.factory import build_transport
from zaphubd.webhooks import assembly as webhooks

log = logging.getLogger("zaphubd")


@dataclass(frozen=True, slots=True)
class QueueBinding:
    """A queue this daemon consumes: its spec, handler, and what to do with dead jobs."""

    spec: QueueSpec
    handler: Handler
    on_dead: DeadHandler | None = None
    bind: Callable[[Consumer], None] | None = None


QUEUES = web.AppKey("queues", list[QueueBinding])
RECOVERY = web.AppKey("recovery", Recovery)
#: The session id of a `place` wake-up that asks for a pass over every orphan (a drain).
HAND_OVER = uuid.UUID(int=0)
#: Only the composition root holds the transport: the API reaches it through the engine.
TRANSPORT = web.AppKey("transport", Transport)
MEDIA_KEEPER = web.AppKey("media_keeper", MediaKeeper)
MEDIA_RETENTION = web.AppKey("media_retention", MediaRetention)
#: Multipart sends whose file is read at once; the others wait (their bodies unread), so
#: uploads hold at most this many files in memory.
CONCURRENT_UPLOADS = 4
INBOUND_SPECS = (
    QueueSpec(keys.MESSAGE_RECEIVE, concurrency=50, max_attempts=10),
    QueueSpec(keys.RECEIPT_EVENTS, concurrency=50, max_attempts=10),
    QueueSpec(keys.PRESENCE_EVENTS, concurrency=20, max_attempts=5),
    QueueSpec(keys.CALL_EVENTS, concurrency=20, max_attempts=10),
)


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
        app[QUEUES] = []
        yield
    finally:
        await db.close()


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    redis = await connect_redis(
        settings.redis_url, settings.startup_timeout_s, cluster=settings.redis_cluster
    )
    try:
        await migrate_queue_keys(redis)  # before any consumer reads the new names
    except BaseException:
        await redis.aclose()
        raise
    app[appkeys.REDIS] = redis
    app[appkeys.PUBLISHER] = Publisher(redis)
    try:
        yield
    finally:
        await redis.aclose()


async def sessions_ctx(app: web.Application) -> AsyncIterator[None]:
    """The transport and the session engine; closes every socket (no logout) at exit."""
    settings = app[appkeys.SETTINGS]
    transport = build_transport(settings, app[appkeys.DB], app[appkeys.METRICS].registry)
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
        backoff=Backoff(
            settings.reconnect_base_s, settings.reconnect_cap_s, settings.liveness_timeout_s
        ),
    )
    app[TRANSPORT] = transport
    app[appkeys.SESSION_REPO] = repo
    app[appkeys.EVENT_REPO] = sink.repo
    app[appkeys.EVENT_SINK] = sink
    app[appkeys.TRANSITIONS] = transitions
    app[appkeys.LEASES] = leases
    app[appkeys.SESSIONS] = manager
    registry = NodeRegistry(
        NodeRepo(app[appkeys.DB]),
        settings.node_id,
        __version__,
        settings.max_concurrent_sessions,
        lambda: manager.count,
        settings.session_lease_ttl_s,
    )
    leases.peers = registry.has_peers
    wakeups = Wakeups(app[appkeys.REDIS], settings.node_id, leases.holders)
    recovery = Recovery(
        repo,
        manager,
        leases,
        registry,
        starts_per_s=settings.recovery_starts_per_s,
        interval_s=settings.session_lease_ttl_s / 4,
        grace_s=settings.session_lease_ttl_s / 2,
    )
    wakeups.handle("place", recovery.request_pass)
    manager.watch(registry.touch, _async(registry.touch))
    app[appkeys.NODES], app[appkeys.WAKEUPS], app[RECOVERY] = registry, wakeups, recovery
    app[appkeys.SESSION_COMMANDS] = SessionCommands(
        repo, app[appkeys.PUBLISHER], transitions, manager, registry.capacity
    )
    calls = OwnerCalls(app[appkeys.REDIS], settings.node_id)
    app[appkeys.SESSION_ACTIONS] = SessionActions(manager, settings.media_max_bytes, leases, calls)
    app[appkeys.MESSAGE_READS] = MessageReads(app[appkeys.SESSION_ACTIONS])
    app[appkeys.GROUP_ACTIONS] = GroupActions(app[appkeys.SESSION_ACTIONS])
    app[appkeys.CONTACTS] = contacts.build(
        app[appkeys.SESSION_ACTIONS], app[appkeys.REDIS], settings
    )
    app[appkeys.CHAT_REPO] = ChatRepo(app[appkeys.DB])
    app[appkeys.CHATS] = ChatActions(app[appkeys.SESSION_ACTIONS], app[appkeys.CHAT_REPO], sink)
    workers = SessionWorkers(manager, leases, transitions, registry, wakeups.signal)
    app[QUEUES] += [QueueBinding(INIT_SPEC, workers.init), QueueBinding(CLOSE_SPEC, workers.close)]
    tasks = TaskGroup("sessions")
    tasks.spawn(leases.run(manager.on_lease_lost), "leases")
    tasks.spawn(registry.run(), "node-heartbeat")
    tasks.spawn(wakeups.run(), "wakeups")
    tasks.spawn(calls.run(), "owner-calls")
    try:
        yield
    finally:
        await _hand_over(registry, manager, wakeups)
        await tasks.cancel_all()
        await transport.close()


def _async(call: Callable[[uuid.UUID], None]) -> Callable[[uuid.UUID], Awaitable[None]]:
    async def wrapper(session_id: uuid.UUID) -> None:
        call(session_id)

    return wrapper


async def _hand_over(registry: NodeRegistry, manager: SessionManager, wakeups: Wakeups) -> None:
    """Drain: out of placement first, then close every socket (no logout) and release its
    lease, then tell the other nodes to place the sessions now, not at their next pass."""
    registry.draining = True
    with contextlib.suppress(Exception):
        await registry.beat()
    count = manager.count
    await manager.shutdown()
    with contextlib.suppress(Exception):
        others = [n.node_id for n in await registry.live() if n.node_id != registry.node_id]
        for node_id in others:
            await wakeups.signal(node_id, "place", HAND_OVER)
        if count and others:
            log.info("handed %d session(s) over to %s", count, ", ".join(others))
    await registry.leave()


async def media_ctx(app: web.Application) -> AsyncIterator[None]:
    """The media store: inbound media kept for config.storeMedia, staged uploads, the sweeper."""
    settings = app[appkeys.SETTINGS]
    store = build_media_store(settings)
    await store.start()
    repo = StoredMediaRepo(app[appkeys.DB])
    uploads = Uploads(store, repo, settings.upload_stale_s)
    keeper = MediaKeeper(
        store,
        MessageRepo(app[appkeys.DB]),
        repo,
        app[appkeys.SESSION_REPO],
        app[appkeys.SESSION_ACTIONS],
        app[appkeys.PUBLISHER],
        settings.inbound_media_max_bytes,
    )
    app[appkeys.MEDIA_STORE], app[appkeys.UPLOADS], app[MEDIA_KEEPER] = store, uploads, keeper
    app[appkeys.UPLOAD_SLOTS] = asyncio.Semaphore(CONCURRENT_UPLOADS)
    spec = media_store_spec(settings.media_store_concurrency)
    app[QUEUES].append(QueueBinding(spec, keeper.handle, keeper.dead))
    tasks = TaskGroup("media")
    app[MEDIA_RETENTION] = retention = MediaRetention(store, app[appkeys.DB])
    tasks.spawn(uploads.run(), "upload-sweeper")
    tasks.spawn(retention.run(), "media-retention")
    try:
        yield
    finally:
        await tasks.cancel_all()
        await store.close()


async def messaging_ctx(app: web.Application) -> AsyncIterator[None]:
    """The send path (lanes, sender, media downloads) and the inbound consumers."""
    settings = app[appkeys.SETTINGS]
    sink, manager, transport = app[appkeys.EVENT_SINK], app[appkeys.SESSIONS], app[TRANSPORT]
    messages, calls = MessageRepo(app[appkeys.DB]), CallRepo(app[appkeys.DB])
    http = guarded_session(
        allow_private=settings.media_allow_private,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60),
        limit=100,
        limit_per_host=10,
        user_agent=f"zaphubd/{__version__}",
    )
    limits = MediaLimits(
        settings.media_max_bytes, settings.media_timeout_s, settings.media_allow_private
    )
    policy = SendPolicy(
        in_doubt=settings.indoubt_sends,
        accepts_message_id=transport.accepts_message_id,
    )
    amends = MessageAmends(app[appkeys.DB])
    app[appkeys.MEDIA_FETCHER] = fetcher = MediaFetcher(http, limits, app[appkeys.UPLOADS])
    sender = MessageSender(messages, sink, fetcher, policy, amends)
    lanes = SendLanes(
        OutboxRepo(app[appkeys.DB]),
        sender.run,
        sender.give_up,
        LaneSettings(settings.send_prefetch, settings.send_prefetch_total, settings.send_poll_s),
    )
    lanes.attach(manager)
    wakeups = app[appkeys.WAKEUPS]
    wakeups.handle("send", lanes.wake)
    outcomes, lids = app[appkeys.METRICS].inbound_messages, LidMap(app[appkeys.DB])
    traffic = TrafficRouter(app[appkeys.PUBLISHER], sink, manager, outcomes, lids)
    traffic.route(ChatSettingsChanged, app[appkeys.CHATS].on_event)
    manager.set_traffic(traffic)
    app[appkeys.MESSAGE_REPO], app[appkeys.CALL_REPO], app[appkeys.LANES] = messages, calls, lanes
    app[appkeys.SEND_BACKLOG] = BacklogView(lanes.outbox, lanes)
    app[appkeys.SEND_INTAKE] = SendIntake(
        messages,
        app[appkeys.SESSION_REPO],
        sink,
        wakeups.wake,
        transport.new_message_id if transport.accepts_message_id else None,
    )
    inbound = InboundHandlers(
        messages,
        calls,
        sink,
        outcomes,
        lids,
        amends,
        app[MEDIA_KEEPER].offer,
        settings.public_url or "",
    )
    handlers = (inbound.message, inbound.receipt, inbound.presence, inbound.call)
    dead = (inbound.message_dead, None, None, None)
    app[QUEUES] += [
        QueueBinding(spec, handler, on_dead)
        for spec, handler, on_dead in zip(INBOUND_SPECS, handlers, dead, strict=True)
    ]
    try:
        yield
    finally:
        await lanes.close()
        await http.close()


async def webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    """Deliveries of every event to the sessions' webhook URLs, and the dispatcher's queue."""
    sink, commands = app[appkeys.EVENT_SINK], app[appkeys.SESSION_COMMANDS]
    services = webhooks.Services(
        app[appkeys.DB],
        app[appkeys.REDIS],
        app[appkeys.PUBLISHER],
        sink,
        app[appkeys.SESSION_REPO],
        app[appkeys.METRICS].registry,
    )
    hooks = webhooks.build(app[appkeys.SETTINGS], services)
    await webhooks.check_global(app[appkeys.SETTINGS], hooks.policy)
    sink.subscribe(hooks.listener)
    commands.on_change(hooks.targets.invalidate)
    commands.check_webhook_urls_with(hooks.policy.check)
    app[appkeys.WEBHOOKS] = hooks.commands
    app[appkeys.SESSION_WEBHOOKS] = hooks.session_webhooks
    dispatcher = hooks.dispatcher
    app[QUEUES].append(
        QueueBinding(hooks.spec, dispatcher.handle, dispatcher.on_dead, dispatcher.bind)
    )
    tasks = TaskGroup("webhooks")
    tasks.spawn(hooks.sweeper.run(), "sweeper")
    tasks.spawn(hooks.catchup.run(), "catch-up")

    async def drain(_: web.Application) -> None:
        await hooks.drain()

    app.on_shutdown.append(drain)  # before any cleanup context: the consumers still run
    try:
        yield
    finally:
        await tasks.cancel_all()
        await hooks.close()


async def streams_ctx(app: web.Application) -> AsyncIterator[None]:
    """The live event stream's reader of the events table, its limits and its tokens."""
    settings = app[appkeys.SETTINGS]
    hub = EventHub(EventFeed(app[appkeys.DB]), poll_s=settings.stream_poll_s)

    async def poke(_: EventRow) -> None:
        hub.poke()

    app[appkeys.EVENT_SINK].subscribe(poke)
    app[appkeys.EVENT_HUB] = hub
    app[appkeys.STREAM_LIMITS] = StreamLimits(
        per_key=settings.stream_max_per_key, total=settings.stream_max_total
    )
    app[appkeys.STREAM_TOKENS] = StreamTokens(app[appkeys.REDIS], ttl_s=settings.stream_token_ttl_s)

    async def end_streams(_: web.Application) -> None:
        hub.end_all()  # or aiohttp would wait for the streams to end

    app.on_shutdown.append(end_streams)
    tasks = TaskGroup("streams")
    keys = ApiKeyRepo(app[appkeys.DB])
    tasks.spawn(end_revoked_streams(hub, keys, interval_s=settings.stream_heartbeat_s), "revoked")
    try:
        yield
    finally:
        await tasks.cancel_all()
        await hub.close()


async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """Queue consumers and recovery; stopped before what they drive."""
    settings = app[appkeys.SETTINGS]
    consumers = [_consumer(app, binding) for binding in app[QUEUES]]
    for consumer in consumers:
        await consumer.start()
    tasks = TaskGroup("workers")
    tasks.spawn(app[RECOVERY].run(), "recovery")
    try:
        yield
    finally:
        await tasks.cancel_all()
        budget = settings.shutdown_timeout_s / 2
        await asyncio.gather(*(c.stop(budget) for c in consumers))


def _consumer(app: web.Application, binding: QueueBinding) -> Consumer:
    settings = app[appkeys.SETTINGS]
    consumer = Consumer(
        app[appkeys.REDIS],
        binding.spec,
        binding.handler,
        consumer_name=settings.node_id,
        on_dead=binding.on_dead,
        visibility_timeout_s=settings.queue_visibility_timeout_s,
        metrics=app[appkeys.METRICS],
    )
    if binding.bind:
        binding.bind(consumer)
    return consumer


CONTEXTS: tuple[Callable[[web.Application], AsyncIterator[None]], ...] = (
    postgres_ctx,
    redis_ctx,
    sessions_ctx,
    media_ctx,
    messaging_ctx,
    webhooks_ctx,
    streams_ctx,
    workers_ctx,
)
