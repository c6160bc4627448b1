"""Request parsing through marshmallow schemas, with failures in the API.md envelope.

Replaces webargs' aiohttp parser: bodies are decoded with orjson (which also refuses absurd
nesting), a body that is not JSON is a 400, and every validation failure becomes
`ValidationFailed` with `details` keyed by dotted field path.
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


class ApiParser(AIOHTTPParser):
    """webargs parser that speaks our error envelope."""

    async def load_json(self, req: web.Request, schema: ma.Schema) -> Any:
        if not req.body_exists:
            return ma.missing
        if not _is_json(req.content_type):
            raise ValidationFailed("Content-Type must be application/json")
        raw = await req.read()
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise ValidationFailed(f"malformed JSON body: {err}") from None

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
