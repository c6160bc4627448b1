"""The webhook parts wired together; the composition root (and the benchmark) builds them here.

`build` must run inside the event loop (it opens the shared ClientSession); `close` releases
what it opened, after the queue consumer has stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from prometheus_client import CollectorRegistry

from zaphubd.db.database import Database
from zaphubd.db.sessions import SessionRepo
from zaphubd.db.webhook_targets import WebhookTargetRepo
from zaphubd.db.webhooks import WebhookRepo
from zaphubd.errors import ConfigError, ValidationFailed
from zaphubd.eventsink import EventSink
from zaphubd.queue.consumer import QueueSpec
from zaphubd.queue.producer import Publisher
from zaphubd.queue.redis import RedisClient
from zaphubd.settings import Settings
from zaphubd.webhooks.catchup import EventCatchUp
from zaphubd.webhooks.commands import WebhookCommands
from zaphubd.webhooks.dispatcher import Dispatcher, DispatcherParts, delivery_spec
from zaphubd.webhooks.hosts import HostLanes, LaneLimits
from zaphubd.webhooks.listener import WebhookListener
from zaphubd.webhooks.manage import SessionWebhookCommands
from zaphubd.webhooks.metrics import WebhookMetrics
from zaphubd.webhooks.queueing import DeliveryQueue
from zaphubd.webhooks.recorder import AttemptRecorder
from zaphubd.webhooks.sender import WebhookSender, open_http
from zaphubd.webhooks.settling import RetryPolicy, Settler
from zaphubd.webhooks.sweeper import DeliverySweeper
from zaphubd.webhooks.targets import GLOBAL_WEBHOOK_ID, Target, Targets
from zaphubd.webhooks.urlpolicy import WebhookUrlPolicy

#: How long attempts in flight may take to finish when the daemon stops.
DRAIN_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class Services:
    """What the webhook parts use from the rest of the daemon."""

    db: Database
    redis: RedisClient
    publisher: Publisher
    sink: EventSink
    sessions: SessionRepo
    registry: CollectorRegistry


@dataclass(frozen=True, slots=True)
class Webhooks:
    listener: WebhookListener
    dispatcher: Dispatcher
    spec: QueueSpec
    commands: WebhookCommands
    session_webhooks: SessionWebhookCommands
    sweeper: DeliverySweeper
    catchup: EventCatchUp
    targets: Targets
    policy: WebhookUrlPolicy
    metrics: WebhookMetrics
    #: What `close` releases, in order.
    resources: tuple[HostLanes, Settler, DeliveryQueue, aiohttp.ClientSession]

    async def drain(self, grace_s: float = DRAIN_GRACE_S) -> None:
        """Start no more attempts; let those in flight finish and be recorded and settled.

        Runs before the queue consumer stops (aiohttp's on_shutdown), so every outcome is
        acknowledged while the consumer still flushes; what is cut short runs again later.
        """
        lanes, settler = self.resources[:2]
        await lanes.close(grace_s)
        await settler.close()

    async def close(self) -> None:
        """Cancel what is left (its jobs run again later), finish writes, close HTTP."""
        lanes, settler, deliveries, http = self.resources
        await lanes.close()
        await settler.close()
        await deliveries.close()
        await http.close()


def build(settings: Settings, services: Services, limits: LaneLimits | None = None) -> Webhooks:
    limits = limits or LaneLimits()
    timeout_s = settings.webhook_timeout_ms / 1000
    allow_private = settings.webhook_allow_private
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    hook = global_target(settings)
    repo, target_repo = WebhookRepo(services.db), WebhookTargetRepo(services.db)
    targets = Targets(target_repo, secret, global_=hook)
    http = open_http(allow_private=allow_private, timeout_s=timeout_s, per_host=limits.per_host)
    sender = WebhookSender(http, timeout_s=timeout_s, allow_private=allow_private)
    deliveries = DeliveryQueue(repo, services.publisher)
    log_cap = settings.webhook_max_retries + 1  # every attempt of one automatic run
    recorder, lanes = AttemptRecorder(repo, services.sink, log_cap), HostLanes(limits)
    metrics = WebhookMetrics(services.registry)
    metrics.held.set_function(lambda: lanes.held)
    policy = WebhookUrlPolicy(allow_private=allow_private)
    retries = RetryPolicy(settings.webhook_max_retries, settings.webhook_backoff_base_ms / 1000)
    settler = Settler(recorder, metrics, retries)
    dispatcher = Dispatcher(DispatcherParts(targets, sender, lanes, settler, repo, metrics))
    listener = WebhookListener(targets, deliveries)
    return Webhooks(
        listener=listener,
        dispatcher=dispatcher,
        spec=delivery_spec(settings),
        commands=WebhookCommands(repo, deliveries, sender, targets, policy, services.sink),
        session_webhooks=SessionWebhookCommands(
            target_repo, policy, targets, settings.webhooks_per_session
        ),
        sweeper=DeliverySweeper(repo, deliveries, services.redis, grace_s=5 * timeout_s + 60),
        catchup=EventCatchUp(
            repo,
            listener,
            services.redis,
            global_hook=(GLOBAL_WEBHOOK_ID, hook.events) if hook is not None else None,
        ),
        targets=targets,
        policy=policy,
        metrics=metrics,
        resources=(lanes, settler, deliveries, http),
    )


def global_target(settings: Settings) -> Target | None:
    """ZAPHUB_GLOBAL_WEBHOOK_*: a webhook every session's events go to, if it is set."""
    if settings.global_webhook_url is None:
        return None
    secret = settings.global_webhook_secret or settings.webhook_secret
    return Target(
        webhook_id=GLOBAL_WEBHOOK_ID,
        url=settings.global_webhook_url,
        secret=secret.get_secret_value() if secret else None,
        events=settings.global_webhook_patterns,
    )


async def check_global(settings: Settings, policy: WebhookUrlPolicy) -> None:
    """Refuse to start with a global webhook URL whose host resolves to a forbidden address
    (the settings checked the rest), as a session's webhook_url would be refused."""
    if settings.global_webhook_url is None:
        return
    try:
        await policy.check(settings.global_webhook_url, "ZAPHUB_GLOBAL_WEBHOOK_URL")
    except ValidationFailed as err:
        raise ConfigError([str(err)]) from None
