"""Request parsing through marshmallow schemas, with failures in the API.md envelope.

Replaces webargs' aiohttp parser: bodies are decoded with orjson (which also refuses absurd
nesting), a body that is not JSON is a 400, and every validation failure becomes
`ValidationFailed` with `details` keyed by dotted field path. NUL characters are refused in
bodies, query strings and paths alike: Postgres can store U+0000 neither in text nor in jsonb,
and no WhatsApp content needs one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

import marshmallow as ma
import orjson
from aiohttp import web
from webargs.aiohttpparser import AIOHTTPParser

from zaphubd.errors import ValidationFailed

_LOCATION_NAMES = {"json": "body", "querystring": "query", "match_info": "path"}
NUL_REFUSED = "text may not contain NUL characters (U+0000)"


class ApiParser(AIOHTTPParser):
    """webargs parser that speaks our error envelope."""

    async def load_json(self, req: web.Request, schema: ma.Schema) -> Any:
        if not req.body_exists:
            return ma.missing
        if not _is_json(req.content_type):
            raise ValidationFailed("Content-Type must be application/json")
        raw = await req.read()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise ValidationFailed(f"malformed JSON body: {err}") from None
        # JSON can carry a NUL only escaped, so most bodies are cleared without a walk.
        if b"\\u0000" in raw and _holds_nul(data):
            raise ValidationFailed(NUL_REFUSED, {"body": [NUL_REFUSED]})
        return data

    def load_querystring(self, req: web.Request, schema: ma.Schema) -> Any:
        if any("\x00" in key or "\x00" in value for key, value in req.query.items()):
            raise ValidationFailed(NUL_REFUSED, {"query": [NUL_REFUSED]})
        return super().load_querystring(req, schema)

    def load_match_info(self, req: web.Request, schema: ma.Schema) -> Any:
        if any("\x00" in value for value in req.match_info.values()):
            raise ValidationFailed(NUL_REFUSED, {"path": [NUL_REFUSED]})
        return super().load_match_info(req, schema)

    def handle_error(
        self,
        error: ma.ValidationError,
        req: web.Request,
        schema: ma.Schema,
        *,
        error_status_code: int | None,
        error_headers: Mapping[str, str] | None,
    ) -> NoReturn:
        details = flatten_errors(error.messages)
        raise ValidationFailed(describe(details), details)


def _holds_nul(data: Any) -> bool:
    """Whether any string (value or key) in decoded JSON contains U+0000; iterative, as
    orjson allows nesting deeper than Python's recursion limit."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """`{"json": {"config": {"retryLimit": ["..."]}}}` -> `{"config.retryLimit": ["..."]}`."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = str(key)
            if not prefix and name in _LOCATION_NAMES:
                name = ""  # webargs nests errors under the location; the field path is enough
            path = f"{prefix}.{name}" if prefix and name else prefix or name
            flat.update(flatten_errors(value, path))
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    if isinstance(messages, list):
        flat = {}
        for item in messages:
            flat.update(flatten_errors(item, prefix))
        return flat
    return {prefix or "_schema": [str(messages)]}


def describe(details: dict[str, list[str]]) -> str:
    fields = [name for name in details if name != "_schema"]
    if not fields:
        return "; ".join(details.get("_schema", ["invalid request"]))
    return "invalid request: " + ", ".join(sorted(fields))


async def parse_body(request: web.Request, schema: ma.Schema) -> dict[str, Any]:
    """Validate the JSON body inside a handler, for routes whose checks must come in an order
    of their own (the session must exist before its body is judged)."""
    raw = await ApiParser().load_json(request, schema)
    try:
        data: dict[str, Any] = schema.load({} if raw is ma.missing else raw)
    except ma.ValidationError as err:
        details = flatten_errors(err.messages)
        raise ValidationFailed(describe(details), details) from None
    return data


async def parse_query(request: web.Request, schema: ma.Schema) -> dict[str, Any]:
    """Validate the query string inside a handler (see `parse_body`)."""
    data: dict[str, Any] = await ApiParser().parse(schema, request, location="querystring")
    return data
