"""The HTTP skeleton end to end, in-process, on the real Postgres and Redis."""

from __future__ import annotations

import asyncio
import logging

import marshmallow as ma
import pytest
from aiohttp import web
from aiohttp_apigami import request_schema

from tests.conftest import make_settings
from zaphubd.daemon import build_app
from zaphubd.http import appkeys
from zaphubd.http.responses import ok
from zaphubd.http.schemas import StrictSchema

KEY = "k" * 32


class EchoSchema(StrictSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=5))
    config = ma.fields.Nested(
        type(
            "ConfigSchema",
            (StrictSchema,),
            {"retryLimit": ma.fields.Integer(validate=ma.validate.Range(0, 10))},
        )
    )


@request_schema(EchoSchema)
async def echo(request: web.Request) -> web.Response:
    return ok(request["data"])


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("database password is hunter2")


def app_with_test_routes(pg_url: str, redis_url: str, **overrides: object) -> web.Application:
    app = build_app(make_settings(pg_url, redis_url, **overrides))
    app.router.add_post("/api/v1/_test/echo", echo)
    app.router.add_get("/api/v1/_test/boom", boom)
    return app


async def test_health_reports_both_dependencies(api) -> None:  # type: ignore[no-untyped-def]
    client = await api()
    resp = await client.get("/api/v1/health")
    body = await resp.json()
    assert resp.status == 200
    assert body["success"] is True
    assert body["data"]["status"] == "healthy"
    assert body["data"]["checks"] == {"postgres": "ok", "redis": "ok"}


async def test_health_is_degraded_when_redis_goes_away(pg_url, services) -> None:  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    from tests.services import localservices

    redis = localservices.Redis(services.tmp / "redis-health", localservices.free_port())
    redis.ensure(appendonly=False)
    client = TestClient(TestServer(build_app(make_settings(pg_url, redis.url))))
    await client.start_server()
    try:
        redis.stop()
        for _ in range(50):  # redis-server takes a moment to exit after SIGTERM
            resp = await client.get("/api/v1/health")
            if resp.status == 503:
                break
            await asyncio.sleep(0.1)
        body = await resp.json()
        assert resp.status == 503
        assert body["data"]["checks"] == {"postgres": "ok", "redis": "unreachable"}
        assert body["error"]["type"] == "ServiceUnavailableError"
    finally:
        await client.close()


async def test_health_on_a_cluster_checks_every_master(pg_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A cluster with one master down is degraded, even when the client's default node (the
    one a plain PING goes to) is still up."""
    from aiohttp.test_utils import TestClient, TestServer

    from tests.redis_cluster import start_cluster

    cluster = start_cluster(tmp_path / "cluster")
    client = TestClient(TestServer(build_app(make_settings(pg_url, cluster.url))))
    try:
        await client.start_server()
        resp = await client.get("/api/v1/health")
        assert resp.status == 200, await resp.text()
        redis = client.server.app[appkeys.REDIS]
        default_port = redis.get_default_node().port
        victim = next(node for node in cluster.nodes if node.port != default_port)  # type: ignore[attr-defined]
        victim.stop()  # type: ignore[attr-defined]
        for _ in range(50):
            resp = await client.get("/api/v1/health")
            if resp.status == 503:
                break
            await asyncio.sleep(0.1)
        body = await resp.json()
        assert resp.status == 503
        assert body["data"]["checks"] == {"postgres": "ok", "redis": "unreachable"}
    finally:
        await client.close()
        cluster.stop()


async def test_unknown_route_and_method_use_the_error_envelope(api) -> None:  # type: ignore[no-untyped-def]
    client = await api()
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status == 404
    assert await resp.json() == {
        "success": False,
        "error": {"type": "NotFoundError", "message": "no such route"},
    }
    resp = await client.delete("/api/v1/health")
    assert resp.status == 405
    assert (await resp.json())["error"]["type"] == "MethodNotAllowedError"


async def test_validation_errors_name_each_field(api, pg_url, redis_url) -> None:  # type: ignore[no-untyped-def]
    client = await api(app_with_test_routes(pg_url, redis_url))
    resp = await client.post(
        "/api/v1/_test/echo", json={"name": "far too long", "config": {"retryLimit": 99}, "x": 1}
    )
    body = await resp.json()
    assert resp.status == 400
    assert body["error"]["type"] == "ValidationError"
    details = body["error"]["details"]
    assert set(details) == {"name", "config.retryLimit", "x"}
    assert details["x"] == ["Unknown field."]
    ok_resp = await client.post("/api/v1/_test/echo", json={"name": "ab"})
    assert ok_resp.status == 200
    assert (await ok_resp.json())["data"] == {"name": "ab"}


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b'{"name": "a",', {"Content-Type": "application/json"}, "malformed JSON"),
        (b"\xff\xfe\x00", {"Content-Type": "application/json"}, "malformed JSON"),
        (b"[" * 5000 + b"]" * 5000, {"Content-Type": "application/json"}, "malformed JSON"),
        (b"name=a", {"Content-Type": "application/x-www-form-urlencoded"}, "Content-Type"),
        (b"[1, 2]", {"Content-Type": "application/json"}, "Invalid input type"),
    ],
)
async def test_bad_bodies_are_400(api, pg_url, redis_url, body, headers, message) -> None:  # type: ignore[no-untyped-def]
    client = await api(app_with_test_routes(pg_url, redis_url))
    resp = await client.post("/api/v1/_test/echo", data=body, headers=headers)
    payload = await resp.json()
    assert resp.status == 400
    assert payload["error"]["type"] == "ValidationError"
    assert message in str(payload["error"])


async def test_bodies_over_the_limit_are_413(api, pg_url, redis_url) -> None:  # type: ignore[no-untyped-def]
    client = await api(app_with_test_routes(pg_url, redis_url, http_max_body_bytes=2048))
    resp = await client.post(
        "/api/v1/_test/echo",
        data=b'{"name": "' + b"a" * 4096 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 413
    assert (await resp.json())["error"]["type"] == "PayloadTooLargeError"


async def test_unexpected_errors_are_500_without_details(api, pg_url, redis_url, caplog) -> None:  # type: ignore[no-untyped-def]
    client = await api(app_with_test_routes(pg_url, redis_url))
    with caplog.at_level(logging.ERROR, "zaphubd.http"):
        resp = await client.get("/api/v1/_test/boom")
    text = await resp.text()
    assert resp.status == 500
    assert "hunter2" not in text and "Traceback" not in text
    assert '"InternalServerError"' in text
    assert "hunter2" in caplog.text  # the traceback is in the log, where operators look


async def test_api_key_is_required_except_on_health_and_docs(api) -> None:  # type: ignore[no-untyped-def]
    client = await api(api_key=KEY)
    for path in ("/api/v1/health", "/api/docs", "/api/docs/openapi.json"):
        assert (await client.get(path)).status == 200, path
    resp = await client.get("/metrics")
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert (await resp.json())["error"]["message"].startswith("missing API key")
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32})
    assert wrong.status == 401
    assert (await wrong.json())["error"]["message"] == "invalid API key"
    assert (await client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})).status == 200
    assert (await client.get("/metrics", params={"api_key": KEY})).status == 200
    assert (await client.get("/api/v1/nothing")).status == 401  # unknown routes are not a probe


@pytest.mark.parametrize(
    "path", ["/api/docs/../../metrics", "/api/docs/%2e%2e/%2e%2e/metrics", "/api/docs//metrics"]
)
async def test_path_tricks_do_not_borrow_the_docs_exemption(api, path) -> None:  # type: ignore[no-untyped-def]
    client = await api(api_key=KEY)
    resp = await client.get(path)
    assert resp.status in (401, 404)
    assert b"zaphubd_http_requests_total" not in await resp.read()


async def test_metrics_count_requests_by_route_template(api) -> None:  # type: ignore[no-untyped-def]
    client = await api()
    await client.get("/api/v1/health")
    await client.get("/api/v1/nope")
    text = await (await client.get("/metrics")).text()
    assert (
        'zaphubd_http_requests_total{method="GET",route="/api/v1/health",status="200"} 1.0' in text
    )
    assert 'route="unmatched",status="404"' in text
    assert "zaphubd_queue_depth" in text


async def test_openapi_3_spec_and_offline_swagger_ui(api) -> None:  # type: ignore[no-untyped-def]
    client = await api()
    spec = await (await client.get("/api/docs/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/health" in spec["paths"]
    assert "produces" not in str(spec)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    page = await (await client.get("/api/docs")).text()
    assert "swagger-ui" in page and "cdn" not in page.lower()
    bundle = await client.get("/api/docs/static/swagger-ui-bundle.js")
    assert bundle.status == 200


async def test_one_access_log_line_per_request_without_query(api, caplog) -> None:  # type: ignore[no-untyped-def]
    client = await api()
    with caplog.at_level(logging.INFO, "zaphubd.access"):
        await client.get("/api/v1/health", params={"api_key": "s3cret-in-query"})
    lines = [r.getMessage() for r in caplog.records if r.name == "zaphubd.access"]
    assert len(lines) == 1
    # (503 when the machine is too loaded for the health check's own deadline: not the point)
    assert lines[0].startswith(("GET /api/v1/health 200 ", "GET /api/v1/health 503 "))
    assert "s3cret" not in caplog.text
