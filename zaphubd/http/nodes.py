"""GET /api/v1/nodes: the live nodes of the deployment, their capacity and sessions."""

from __future__ import annotations

import marshmallow as ma
from aiohttp import web

from zaphubd.cluster.overview import cluster_view
from zaphubd.http import appkeys
from zaphubd.http.responses import ok
from zaphubd.http.schemas import documented, envelope
from zaphubd.queue.redis import outage_as_unavailable


class NodeSchema(ma.Schema):
    node_id = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    capacity = ma.fields.Integer(
        required=True, metadata={"description": "ZAPHUB_MAX_CONCURRENT_SESSIONS"}
    )
    session_count = ma.fields.Integer(required=True)
    sessions = ma.fields.List(ma.fields.UUID(), required=True)
    draining = ma.fields.Boolean(
        required=True, metadata={"description": "stopping: takes no new session"}
    )
    started_at = ma.fields.DateTime(required=True)
    heartbeat_at = ma.fields.DateTime(required=True)
    this_node = ma.fields.Boolean(required=True, metadata={"description": "the node answering"})


class ClusterSchema(ma.Schema):
    nodes = ma.fields.List(ma.fields.Nested(NodeSchema), required=True)
    unplaced_sessions = ma.fields.List(
        ma.fields.UUID(),
        required=True,
        metadata={"description": "sessions that should run and that no node holds right now"},
    )


ClusterEnvelope = envelope(ClusterSchema, "ClusterEnvelope")


@documented(
    "Live nodes, their capacity and sessions", "cluster", (200, ClusterEnvelope), scope="admin"
)
async def list_nodes(request: web.Request) -> web.Response:
    app = request.app
    registry = app[appkeys.NODES]
    async with outage_as_unavailable():
        view = await cluster_view(
            await registry.live(), app[appkeys.SESSION_REPO], app[appkeys.LEASES].holders
        )
    nodes = [
        {
            "node_id": n.node_id,
            "version": n.version,
            "capacity": n.capacity,
            "session_count": len(n.sessions),
            "sessions": n.sessions,
            "draining": n.draining,
            "started_at": n.started_at,
            "heartbeat_at": n.heartbeat_at,
            "this_node": n.node_id == registry.node_id,
        }
        for n in view.nodes
    ]
    return ok({"nodes": nodes, "unplaced_sessions": view.unplaced})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/nodes", list_nodes, allow_head=False)
