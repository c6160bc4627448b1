"""Control API plumbing: JSON bodies, checked fields, JSON answers, and the error middleware.

Every refusal is a JSON body `{"error": "<what is wrong>"}`: 400 for a missing or invalid
field (unknown fields included: a typo must not be silently ignored), 404 for an unknown
device, group or message, 409 for a request that does not fit the current state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from zaphubd import jid
from zaphubd.simnet.protocol import OpError

log = logging.getLogger("zaphubd.simnet")

Body = dict[str, Any]
_OP_STATUS = {"not_found": 404, "conflict": 409, "not_waiting_qr": 409}


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def reply(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except ControlError as err:
        return reply({"error": err.message}, err.status)
    except OpError as err:
        return reply({"error": err.message}, _OP_STATUS.get(err.code, 400))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("simnet control %s %s failed", request.method, request.path)
        return reply({"error": "internal error"}, 500)
    return response


async def read_body(request: web.Request, allowed: Iterable[str]) -> Body:
    """The request's JSON object; 400 when it is not one or has fields nobody reads."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as err:
        raise ControlError(400, f"body is not valid JSON: {err}") from err
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ControlError(400, f"unknown field(s): {', '.join(unknown)}")
    return body


def text(body: Body, name: str, *, required: bool = True, max_len: int = 255) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise ControlError(400, f"{name} is required: a string of 1-{max_len} characters")
    return value


def required_text(body: Body, name: str, max_len: int = 255) -> str:
    value = text(body, name, max_len=max_len)
    assert value is not None
    return value


def phone(body: Body, name: str) -> str:
    """An account: bare digits, or a user JID."""
    value = body.get(name)
    if isinstance(value, str):
        try:
            normalised = jid.normalize(value)
        except jid.InvalidJid:
            normalised = ""
        if normalised.endswith("@" + jid.USER_SERVER):
            return jid.phone_of(normalised)
    raise ControlError(400, f"{name} is required: a phone number (6-15 digits) or a user JID")


def phones(body: Body, name: str) -> list[str]:
    values = body.get(name)
    if not isinstance(values, list):
        raise ControlError(400, f"{name} must be a list of phone numbers")
    return [phone({"p": value}, "p") for value in values]


def address(body: Body, name: str) -> str:
    """Any addressable JID (a bare number becomes a user JID)."""
    value = body.get(name)
    if isinstance(value, str):
        try:
            return jid.normalize(value)
        except jid.InvalidJid as err:
            raise ControlError(400, f"{name} {err}") from err
    raise ControlError(400, f"{name} is required: a phone number or a JID")


def group_jid(body: Body, name: str) -> str:
    value = body.get(name)
    candidate = (
        f"{value}@{jid.GROUP_SERVER}" if isinstance(value, str) and "@" not in value else value
    )
    try:
        normalised = jid.normalize(candidate) if isinstance(candidate, str) else ""
    except jid.InvalidJid:
        normalised = ""
    if not jid.is_group(normalised):
        raise ControlError(400, f"{name} is required: a group id (digits) or <id>@g.us")
    return normalised


def choice(body: Body, name: str, choices: Iterable[str]) -> str:
    options = sorted(choices)
    value = body.get(name)
    if value not in options:
        raise ControlError(400, f"{name} must be one of {', '.join(options)}")
    return str(value)


def flag(body: Body, name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ControlError(400, f"{name} must be true or false")
    return value


def number(body: Body, name: str, low: float, high: float, *, integer: bool = False) -> float:
    value = body.get(name, 0)
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise ControlError(400, f"{name} must be {kind} from {low:g} to {high:g}")
    return value
