"""Typed keys for what the composition root hangs on the aiohttp app."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiohttp import web

from zaphubd.db.database import Database
from zaphubd.metrics import Metrics
from zaphubd.queue.producer import Publisher
from zaphubd.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
STARTED_AT = web.AppKey("started_at", float)
DB = web.AppKey("db", Database)
REDIS = web.AppKey("redis", aioredis.Redis)
PUBLISHER = web.AppKey("publisher", Publisher)
