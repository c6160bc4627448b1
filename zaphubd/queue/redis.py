"""The Redis connection (a single server or a Redis Cluster), and how its outages surface.

A cluster is named by `redis+cluster://host:port[,host:port...]` (`rediss+cluster://` for
TLS), or by a redis:// URL with ZAPHUB_REDIS_CLUSTER=true; the nodes listed are only where
the client starts to discover the cluster.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import ClusterNode, RedisCluster

from zaphubd.backoff import retry_until_deadline
from zaphubd.errors import DependencyUnavailable
from zaphubd.settings import CLUSTER_SCHEMES, cluster_nodes, redact_url

log = logging.getLogger("zaphubd.queue")

#: What redis-py raises when the server is gone, restarting, loading, or unreachable. The
#: cluster errors are those of a cluster that lost a master or every node; a cross-slot
#: error is a bug, not an outage, and stays out of this list.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ClusterError,
    redis.exceptions.SlotNotCoveredError,
    redis.exceptions.RedisClusterUnreachableError,
    OSError,
)

#: Either client: every key, script and pipeline of the daemon works on both (see keys.py).
RedisClient: TypeAlias = aioredis.Redis | RedisCluster

_POOL: dict[str, Any] = {
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
    "health_check_interval": 30,
    "max_connections": 200,  # per node on a cluster
}


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme in CLUSTER_SCHEMES


def client_from_url(url: str, cluster: bool = False) -> RedisClient:
    """A client for `url`, not yet connected: a RedisCluster for a cluster URL or `cluster`."""
    if is_cluster_url(url):
        return _cluster_client(url)
    if cluster:
        return RedisCluster.from_url(url, **_POOL)
    return aioredis.Redis.from_url(url, **_POOL)


def _cluster_client(url: str) -> RedisCluster:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in cluster_nodes(url)],
        username=unquote(user) or None,
        password=unquote(password) or None,
        ssl=parts.scheme == "rediss+cluster",
        **_POOL,
    )


async def ping_all(client: RedisClient) -> None:
    """PING the server, or every master of a cluster (by default a cluster client pings one
    node only, so a health check would miss a master that is down)."""
    if isinstance(client, RedisCluster):
        await client.ping(target_nodes=RedisCluster.PRIMARIES)
    else:
        await client.ping()


async def connect_redis(
    url: str, startup_timeout_s: float = 30, *, cluster: bool = False
) -> RedisClient:
    """A pooled client (bytes in, bytes out), once the server answers PING.

    A cluster client first learns the slot map and requires every slot to be served; it
    reports a cluster still forming with a bare RedisClusterException, so at startup that is
    waited for like a server still starting (a wrong setup ends in the timeout, named).
    """
    client = client_from_url(url, cluster)

    async def ping() -> RedisClient:
        await ping_all(client)
        return client

    waiting_for = (*OUTAGE_ERRORS, redis.exceptions.RedisClusterException)
    try:
        await retry_until_deadline(ping, "redis", startup_timeout_s, waiting_for)
    except DependencyUnavailable:
        await client.aclose()
        raise
    kind = "redis cluster" if isinstance(client, RedisCluster) else "redis"
    log.info("connected to %s at %s", kind, redact_url(url))
    return client


@asynccontextmanager
async def outage_as_unavailable() -> AsyncIterator[None]:
    """Turn a Redis outage into DependencyUnavailable (the API answers 503)."""
    try:
        yield
    except OUTAGE_ERRORS as err:
        raise DependencyUnavailable("redis", str(err) or type(err).__name__) from err
