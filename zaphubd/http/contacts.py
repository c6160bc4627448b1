"""Contacts and the session's own profile: which numbers are on WhatsApp, a contact's about
and picture, blocking, and the account's push name, about and picture.

Checks come first in the API's order: the session (404), then the path's contact and the body
(400), then the connection (409, in the session action). A contact id is a phone number or a
user JID and only ever becomes digits: it is never a path nor a key of anything but those.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_apigami import match_info_schema

from zaphubd.errors import ValidationFailed
from zaphubd.http import appkeys
from zaphubd.http.contact_schemas import (
    BlockedListEnvelope,
    BlockedQuery,
    BlockEnvelope,
    CheckEnvelope,
    CheckSchema,
    ContactEnvelope,
    ContactPathSchema,
    PictureBodySchema,
    PictureIdEnvelope,
    ProfileChangeEnvelope,
    ProfileEnvelope,
    ProfileUpdateSchema,
)
from zaphubd.http.parsing import parse_query
from zaphubd.http.responses import ok, page
from zaphubd.http.schemas import SessionPathSchema, documented, documents_body, documents_input
from zaphubd.http.session_path import path_session, session_and_body
from zaphubd.jid import InvalidJid, is_user, normalize, phone_of
from zaphubd.media import MediaError
from zaphubd.sessions.contacts import profile_jpeg

TAG = "contacts"
CHECK_SCHEMA = CheckSchema()
PROFILE_SCHEMA = ProfileUpdateSchema()
PICTURE_SCHEMA = PictureBodySchema()
BLOCKED_QUERY = BlockedQuery()
#: A profile picture is shown at 640 pixels: a larger file is refused before conversion.
PICTURE_MAX_BYTES = 5 * 1024 * 1024


def contact_number(value: str) -> str:
    """The digits of a phone number or user JID; InvalidJid for anything else."""
    normalised = normalize(value)
    if not is_user(normalised):
        raise InvalidJid("must be a phone number or a user JID (<digits>@s.whatsapp.net)")
    return phone_of(normalised)


@documented(
    "Which numbers are on WhatsApp",
    TAG,
    (200, CheckEnvelope),
    errors=(400, 404, 409, 429),
    scope="read",
    description="Answers are cached per session and requests to WhatsApp are paced "
    "(ZAPHUB_CONTACTS_* settings).",
)
@documents_body(CheckSchema)
@match_info_schema(SessionPathSchema)
async def check_numbers(request: web.Request) -> web.Response:
    row, body = await session_and_body(request, CHECK_SCHEMA)
    given: list[str] = body["numbers"]
    numbers, problems = [], {}
    for index, value in enumerate(given):
        try:
            numbers.append(contact_number(value))
        except InvalidJid as err:
            problems[f"numbers.{index}"] = [f"{value!r} {err}"]
    if problems:
        raise ValidationFailed("invalid request: " + ", ".join(problems), problems)
    answers = await request.app[appkeys.CONTACTS].check(row.id, numbers)
    return ok([a | {"number": value} for a, value in zip(answers, given, strict=True)])


@documented(
    "The session's blocked contacts",
    TAG,
    (200, BlockedListEnvelope),
    errors=(400, 404, 409),
    scope="read",
)
@documents_input(BlockedQuery, "querystring")
@match_info_schema(SessionPathSchema)
async def list_blocked(request: web.Request) -> web.Response:
    row = await path_session(request)
    q = await parse_query(request, BLOCKED_QUERY)
    jids = await request.app[appkeys.CONTACTS].blocklist(row.id)
    shown = jids[q["offset"] : q["offset"] + q["limit"]]
    return ok([{"jid": j} for j in shown], pagination=page(len(jids), q["limit"], q["offset"]))


@documented(
    "A contact's about text and profile picture",
    TAG,
    (200, ContactEnvelope),
    errors=(400, 404, 409, 429),
    scope="read",
)
@match_info_schema(ContactPathSchema)
async def get_contact(request: web.Request) -> web.Response:
    row, number = await _session_and_contact(request)
    return ok(await request.app[appkeys.CONTACTS].profile(row.id, number))


@documented(
    "Block a contact", TAG, (200, BlockEnvelope), errors=(400, 404, 409, 429), scope="control"
)
@match_info_schema(ContactPathSchema)
async def block_contact(request: web.Request) -> web.Response:
    row, number = await _session_and_contact(request)
    return ok(await request.app[appkeys.CONTACTS].block(row.id, number, True))


@documented(
    "Unblock a contact", TAG, (200, BlockEnvelope), errors=(400, 404, 409, 429), scope="control"
)
@match_info_schema(ContactPathSchema)
async def unblock_contact(request: web.Request) -> web.Response:
    row, number = await _session_and_contact(request)
    return ok(await request.app[appkeys.CONTACTS].block(row.id, number, False))


@documented(
    "The session's own profile: push name, about, picture",
    TAG,
    (200, ProfileEnvelope),
    errors=(400, 404, 409),
    scope="read",
)
@match_info_schema(SessionPathSchema)
async def get_profile(request: web.Request) -> web.Response:
    row = await path_session(request)
    return ok(await request.app[appkeys.CONTACTS].own_profile(row.id))


@documented(
    "Change the push name and/or the about text",
    TAG,
    (200, ProfileChangeEnvelope),
    errors=(400, 404, 409),
    scope="control",
)
@documents_body(ProfileUpdateSchema)
@match_info_schema(SessionPathSchema)
async def update_profile(request: web.Request) -> web.Response:
    row, body = await session_and_body(request, PROFILE_SCHEMA)
    contacts = request.app[appkeys.CONTACTS]
    return ok(await contacts.update_profile(row.id, body.get("pushName"), body.get("about")))


@documented(
    "Set the profile picture (JPEG or PNG)",
    TAG,
    (200, PictureIdEnvelope),
    errors=(400, 404, 409),
    scope="control",
)
@documents_body(PictureBodySchema)
@match_info_schema(SessionPathSchema)
async def set_picture(request: web.Request) -> web.Response:
    row, body = await session_and_body(request, PICTURE_SCHEMA)
    jpeg = await _picture(request, body)
    return ok(await request.app[appkeys.CONTACTS].set_picture(row.id, jpeg))


async def _picture(request: web.Request, body: dict[str, Any]) -> bytes:
    """The body's image, fetched (SSRF-guarded, capped) or decoded, as WhatsApp's JPEG."""
    fetcher = request.app[appkeys.MEDIA_FETCHER]
    try:
        file = await fetcher.fetch("image", body, max_bytes=PICTURE_MAX_BYTES)
        return await profile_jpeg(file.data)
    except MediaError as err:
        field = "url" if "url" in body else "data"
        raise ValidationFailed(f"{field}: {err.message}", {field: [err.message]}) from None


async def _session_and_contact(request: web.Request) -> tuple[Any, str]:
    row = await path_session(request)
    value = request["match_info"]["contactId"]
    try:
        return row, contact_number(value)
    except InvalidJid as err:
        raise ValidationFailed(f"contactId {err}", {"contactId": [str(err)]}) from None


def setup(app: web.Application) -> None:
    base = "/api/v1/sessions/{id}"
    app.router.add_post(base + "/contacts/check", check_numbers)
    app.router.add_get(base + "/contacts/blocked", list_blocked, allow_head=False)
    app.router.add_get(base + "/contacts/{contactId}", get_contact, allow_head=False)
    app.router.add_post(base + "/contacts/{contactId}/block", block_contact)
    app.router.add_delete(base + "/contacts/{contactId}/block", unblock_contact)
    app.router.add_get(base + "/profile", get_profile, allow_head=False)
    app.router.add_patch(base + "/profile", update_profile)
    app.router.add_put(base + "/profile/picture", set_picture)
