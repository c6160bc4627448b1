"""The API.md envelopes, encoded once with orjson."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from zaphubd.jsonutil import dumps

JSON_TYPE = "application/json"


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type=JSON_TYPE, headers=headers)


def ok(
    data: Any,
    *,
    status: int = 200,
    message: str | None = None,
    pagination: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """`{"success": true, "data": ..., "message"?, "pagination"?}`."""
    body: dict[str, Any] = {"success": True, "data": data}
    if message:
        body["message"] = message
    if pagination is not None:
        body["pagination"] = pagination
    return json_response(body, status, headers)


def page(total: int, limit: int, offset: int) -> dict[str, Any]:
    """The pagination block: `total` is the real count of matching rows."""
    return {"total": total, "limit": limit, "offset": offset, "has_more": offset + limit < total}


def error_body(type_name: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type_name, "message": message}
    if details is not None:
        error["details"] = details
    return {"success": False, "error": error}
