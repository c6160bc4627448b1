"""What the error middleware answers for failures that are not API errors."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from zaphubd.http.middlewares import error_middleware


async def _answer(error: BaseException) -> tuple[int, dict[str, str]]:
    """The status and the error object of the answer to a request whose handler raises."""

    async def handler(request: web.Request) -> web.Response:
        raise error

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/", handler)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/")
        return resp.status, (await resp.json())["error"]


@pytest.mark.parametrize("error", [FileNotFoundError("/var/lib/x"), TimeoutError()])
async def test_a_local_os_error_or_timeout_is_an_internal_error_not_an_outage(
    error: BaseException,
) -> None:
    status, body = await _answer(error)
    assert status == 500
    assert body["type"] == "InternalServerError"
    assert "/var/lib/x" not in str(body)


async def test_a_postgres_connection_error_is_reported_as_its_outage() -> None:
    status, body = await _answer(asyncpg.ConnectionFailureError("gone"))
    assert status == 503
    assert "postgres" in body["message"].lower()
