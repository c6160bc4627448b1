"""Typed keys for what the composition root hangs on the aiohttp app."""

from __future__ import annotations

import asyncio

from aiohttp import web

from zaphubd.cluster.registry import NodeRegistry
from zaphubd.db.calls import CallRepo
from zaphubd.db.chats import ChatRepo
from zaphubd.db.database import Database
from zaphubd.db.events import EventRepo
from zaphubd.db.messages import MessageRepo
from zaphubd.db.sessions import SessionRepo
from zaphubd.eventsink import EventSink
from zaphubd.media_store.base import MediaStore
from zaphubd.messaging.backlog import BacklogView
from zaphubd.messaging.content import MediaFetcher
from zaphubd.messaging.intake import SendIntake
from zaphubd.messaging.uploads import Uploads
from zaphubd.metrics import Metrics
from zaphubd.queue.producer import Publisher
from zaphubd.queue.redis import RedisClient
from zaphubd.queue.wakeups import Wakeups
from zaphubd.sessions.actions import SessionActions
from zaphubd.sessions.chats import ChatActions
from zaphubd.sessions.commands import SessionCommands
from zaphubd.sessions.contacts import ContactActions
from zaphubd.sessions.groups import GroupActions
from zaphubd.sessions.lanes import SendLanes
from zaphubd.sessions.lease import LeaseKeeper
from zaphubd.sessions.manager import SessionManager
from zaphubd.sessions.message_reads import MessageReads
from zaphubd.sessions.transitions import Transitions
from zaphubd.settings import Settings
from zaphubd.streams.hub import EventHub
from zaphubd.streams.limits import StreamLimits
from zaphubd.streams.tokens import StreamTokens
from zaphubd.webhooks.commands import WebhookCommands
from zaphubd.webhooks.manage import SessionWebhookCommands

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
STARTED_AT = web.AppKey("started_at", float)
DB = web.AppKey("db", Database)
#: A union is no class: the AppKey gets its type from the annotation instead.
REDIS: web.AppKey[RedisClient] = web.AppKey("redis")
PUBLISHER = web.AppKey("publisher", Publisher)
SESSION_REPO = web.AppKey("session_repo", SessionRepo)
EVENT_REPO = web.AppKey("event_repo", EventRepo)
EVENT_SINK = web.AppKey("event_sink", EventSink)
LEASES = web.AppKey("leases", LeaseKeeper)
TRANSITIONS = web.AppKey("transitions", Transitions)
SESSIONS = web.AppKey("sessions", SessionManager)
SESSION_COMMANDS = web.AppKey("session_commands", SessionCommands)
SESSION_ACTIONS = web.AppKey("session_actions", SessionActions)
MESSAGE_READS = web.AppKey("message_reads", MessageReads)
GROUP_ACTIONS = web.AppKey("group_actions", GroupActions)
SEND_INTAKE = web.AppKey("send_intake", SendIntake)
SEND_BACKLOG = web.AppKey("send_backlog", BacklogView)
MESSAGE_REPO = web.AppKey("message_repo", MessageRepo)
CALL_REPO = web.AppKey("call_repo", CallRepo)
LANES = web.AppKey("lanes", SendLanes)
WEBHOOKS = web.AppKey("webhooks", WebhookCommands)
SESSION_WEBHOOKS = web.AppKey("session_webhooks", SessionWebhookCommands)
NODES = web.AppKey("nodes", NodeRegistry)
WAKEUPS = web.AppKey("wakeups", Wakeups)
EVENT_HUB = web.AppKey("event_hub", EventHub)
STREAM_TOKENS = web.AppKey("stream_tokens", StreamTokens)
STREAM_LIMITS = web.AppKey("stream_limits", StreamLimits)
CONTACTS = web.AppKey("contacts", ContactActions)
MEDIA_FETCHER = web.AppKey("media_fetcher", MediaFetcher)
# media (issue 15): the media store and the staged uploads of multipart sends.
MEDIA_STORE = web.AppKey("media_store", MediaStore)
UPLOADS = web.AppKey("uploads", Uploads)
#: Multipart files read at once on this node (each held in memory up to ZAPHUB_MEDIA_MAX_BYTES).
UPLOAD_SLOTS = web.AppKey("upload_slots", asyncio.Semaphore)
CHAT_REPO = web.AppKey("chat_repo", ChatRepo)
CHATS = web.AppKey("chats", ChatActions)
