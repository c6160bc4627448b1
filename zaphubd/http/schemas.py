"""marshmallow schemas shared by every resource: envelopes, pagination, path ids.

Response schemas document what the API returns (the OpenAPI spec is generated from them);
request schemas validate what it accepts. Unknown fields in a body are refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import marshmallow as ma
from aiohttp import web
from aiohttp_apigami import docs, response_schema
from aiohttp_apigami.utils import get_or_set_apispec

from zaphubd.http.auth import ADMIN, ANY_KEY, SCOPE_ATTR, Scope

T = TypeVar("T", bound=Callable[..., Awaitable[web.StreamResponse]])


class StrictSchema(ma.Schema):
    """Request bodies: unknown fields are an error, not silently dropped."""

    class Meta:
        unknown = ma.RAISE


class QuerySchema(ma.Schema):
    """Query strings: other parameters (api_key, cache busters) are ignored."""

    class Meta:
        unknown = ma.EXCLUDE


class SessionPathSchema(ma.Schema):
    id = ma.fields.UUID(required=True, metadata={"description": "session id (UUID)"})


class ErrorSchema(ma.Schema):
    type = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    details = ma.fields.Dict(
        keys=ma.fields.String(), metadata={"description": "per-field messages (dotted paths)"}
    )


class ErrorEnvelopeSchema(ma.Schema):
    success = ma.fields.Boolean(required=True, metadata={"enum": [False]})
    error = ma.fields.Nested(ErrorSchema, required=True)


class PaginationSchema(ma.Schema):
    total = ma.fields.Integer(required=True)
    limit = ma.fields.Integer(required=True)
    offset = ma.fields.Integer(required=True)
    has_more = ma.fields.Boolean(required=True)


def envelope(data: Any, name: str, *, paginated: bool = False) -> type[ma.Schema]:
    """A `{success, data, message?, pagination?}` schema around `data` (a field or schema)."""
    field = data if isinstance(data, ma.fields.Field) else ma.fields.Nested(data, required=True)
    fields: dict[str, ma.fields.Field] = {
        "success": ma.fields.Boolean(required=True),
        "data": field,
        "message": ma.fields.String(),
    }
    if paginated:
        fields["pagination"] = ma.fields.Nested(PaginationSchema, required=True)
    return ma.Schema.from_dict(fields, name=name + "Schema")


_ERROR_TEXT = {
    400: "invalid input (ValidationError)",
    401: "missing or wrong API key",
    403: "this key may not do this (see the route's scope)",
    404: "not found",
    409: "conflict with the current state",
    410: "gone (expired)",
    413: "request body too large",
    429: "a capacity or rate limit was reached: try again later (CapacityError)",
    502: "WhatsApp refused the request (UpstreamError)",
    503: "Postgres or Redis unavailable",
}


def documented(
    summary: str,
    tag: str,
    ok: tuple[int, type[ma.Schema]] | None,
    errors: tuple[int, ...] = (),
    *,
    scope: Scope | None = None,
    **extra: Any,
) -> Callable[[T], T]:
    """OpenAPI docs for a handler: its success response, the error envelopes it can send,
    and what key it needs (`auth.py`): every authenticated route names its `scope`.

    401, 403 and 503 are added to every authenticated route, 400 where errors name it.
    """
    public = extra.get("security") == []
    if public == (scope is not None):
        raise TypeError(f"{summary!r}: an authenticated route, and only one, names a scope")
    codes = sorted({*errors, 503} if public else {*errors, 401, 403, 503})
    if scope is not None:
        extra["description"] = _scope_text(scope, extra.get("description"))
        extra["x-scope"] = scope

    def decorate(handler: T) -> T:
        setattr(handler, SCOPE_ATTR, scope)
        for code in codes:
            handler = response_schema(ErrorEnvelopeSchema, code, description=_ERROR_TEXT[code])(
                handler
            )
        if ok is not None:
            handler = response_schema(ok[1], ok[0], description="success")(handler)
        result: T = docs(tags=[tag], summary=summary, **extra)(handler)
        return result

    return decorate


def _scope_text(scope: Scope, description: str | None) -> str:
    needs = {
        ADMIN: "the admin key",
        ANY_KEY: "any valid key",
    }.get(scope, f"the admin key, or a key of this session with the `{scope}` scope")
    return ((description + "\n\n") if description else "") + f"**Key:** {needs}."


def documents_body(schema: type[ma.Schema]) -> Callable[[T], T]:
    """Put a JSON body schema in the OpenAPI spec without the middleware validating it
    (the handler calls `parse_body` itself, after its own earlier checks)."""
    return documents_input(schema, "json")


def documents_input(schema: type[ma.Schema], location: str) -> Callable[[T], T]:
    """Put a request schema (`json` body or `querystring`) in the OpenAPI spec, unvalidated:
    the handler parses it after the checks that must come first."""
    options = {"required": True} if location == "json" else {}

    def decorate(handler: T) -> T:
        get_or_set_apispec(handler)["schemas"].append(
            {"schema": schema(), "location": location, "options": options, "example": {}}
        )
        return handler

    return decorate
