"""Contacts and the session's own profile: number checks, a contact's about and picture,
the blocklist, and the account's push name, about and picture.

Every call is a session action (`actions.py`): it runs on the node that runs the session and
crosses nodes as JSON. Whether a number is on WhatsApp is asked through the cache and the
pace of `contact_cache.py`, also before a profile lookup or a block: a number that is not on
WhatsApp is a 404 for those, the same on every transport, and the JID WhatsApp answers for
the number (which may differ from it) is the one used.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from zaphubd.cluster.owner_calls import decode_bytes, encode_bytes
from zaphubd.errors import NotFound
from zaphubd.queue.redis import RedisClient
from zaphubd.sessions.actions import SessionActions, transport_errors
from zaphubd.sessions.contact_cache import CheckCache, CheckPace
from zaphubd.sessions.profile_picture import to_profile_jpeg
from zaphubd.settings import Settings
from zaphubd.transport.base import Client, RateLimited
from zaphubd.transport.contacts import NumberCheck, Picture

log = logging.getLogger("zaphubd.sessions")


class ContactActions:
    def __init__(self, actions: SessionActions, cache: CheckCache, pace: CheckPace) -> None:
        self._actions = actions
        self._cache = cache
        self._pace = pace
        actions.serve("contacts.check", self._check)
        actions.serve("contacts.profile", self._profile)
        actions.serve("contacts.block", self._block)
        actions.serve("contacts.blocklist", self._blocklist)
        actions.serve("profile.get", self._own_profile)
        actions.serve("profile.update", self._update_profile)
        actions.serve("profile.picture", self._set_picture)

    async def check(self, session_id: uuid.UUID, numbers: list[str]) -> list[dict[str, Any]]:
        """`{number, exists, jid}` for each of `numbers` (digits), in their order."""
        result: list[dict[str, Any]] = await self._actions.run(
            session_id, "contacts.check", {"numbers": numbers}
        )
        return result

    async def profile(self, session_id: uuid.UUID, number: str) -> dict[str, Any]:
        return await self._run(session_id, "contacts.profile", {"number": number})

    async def block(self, session_id: uuid.UUID, number: str, blocked: bool) -> dict[str, Any]:
        return await self._run(session_id, "contacts.block", {"number": number, "block": blocked})

    async def blocklist(self, session_id: uuid.UUID) -> list[str]:
        result: list[str] = await self._actions.run(session_id, "contacts.blocklist", {})
        return result

    async def own_profile(self, session_id: uuid.UUID) -> dict[str, Any]:
        return await self._run(session_id, "profile.get", {})

    async def update_profile(
        self, session_id: uuid.UUID, push_name: str | None, about: str | None
    ) -> dict[str, Any]:
        args = {"pushName": push_name, "about": about}
        return await self._run(session_id, "profile.update", args)

    async def set_picture(self, session_id: uuid.UUID, jpeg: bytes) -> dict[str, Any]:
        return await self._run(session_id, "profile.picture", {"data": encode_bytes(jpeg)})

    async def _run(self, session_id: uuid.UUID, op: str, args: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self._actions.run(session_id, op, args)
        return result

    # -- on the node that runs the session --------------------------------------------

    async def _check(self, session_id: uuid.UUID, args: dict[str, Any]) -> list[dict[str, Any]]:
        client = self._client(session_id)
        numbers: list[str] = args["numbers"]
        answers = await self._lookup(session_id, client, numbers)
        return [_check_view(answers[n]) for n in numbers]

    async def _profile(self, session_id: uuid.UUID, args: dict[str, Any]) -> dict[str, Any]:
        client = self._client(session_id)
        jid = await self._existing(session_id, client, args["number"])
        with transport_errors("contact profile"):
            found = await client.contacts.profile(jid)
        set_at = found.about_set_at.isoformat() if found.about_set_at else None
        return {
            "jid": found.jid,
            "about": found.about,
            "aboutSetAt": set_at,
            "picture": _picture_view(found.picture),
        }

    async def _block(self, session_id: uuid.UUID, args: dict[str, Any]) -> dict[str, Any]:
        client = self._client(session_id)
        jid = await self._existing(session_id, client, args["number"])
        with transport_errors("block" if args["block"] else "unblock"):
            if args["block"]:
                await client.contacts.block(jid)
            else:
                await client.contacts.unblock(jid)
        log.info("session %s %s %s", session_id, "blocked" if args["block"] else "unblocked", jid)
        return {"jid": jid, "blocked": bool(args["block"])}

    async def _blocklist(self, session_id: uuid.UUID, args: dict[str, Any]) -> list[str]:
        client = self._client(session_id)
        with transport_errors("blocklist"):
            return await client.contacts.blocklist()

    async def _own_profile(self, session_id: uuid.UUID, args: dict[str, Any]) -> dict[str, Any]:
        client = self._client(session_id)
        with transport_errors("own profile"):
            own = await client.contacts.own_profile()
        return {
            "jid": own.jid,
            "pushName": own.push_name,
            "about": own.about,
            "picture": _picture_view(own.picture),
        }

    async def _update_profile(self, session_id: uuid.UUID, args: dict[str, Any]) -> dict[str, Any]:
        client = self._client(session_id)
        changed: dict[str, Any] = {}
        with transport_errors("profile update"):
            if args.get("pushName") is not None:
                await client.contacts.set_push_name(args["pushName"])
                changed["pushName"] = args["pushName"]
            if args.get("about") is not None:
                await client.contacts.set_about(args["about"])
                changed["about"] = args["about"]
        log.info("session %s changed its profile: %s", session_id, ", ".join(changed))
        return changed

    async def _set_picture(self, session_id: uuid.UUID, args: dict[str, Any]) -> dict[str, Any]:
        client = self._client(session_id)
        jpeg = decode_bytes(args["data"])
        with transport_errors("profile picture"):
            picture_id = await client.contacts.set_picture(jpeg)
        log.info(
            "session %s set its profile picture (%d bytes): %s", session_id, len(jpeg), picture_id
        )
        return {"id": picture_id}

    def _client(self, session_id: uuid.UUID) -> Client:
        return self._actions.connected(session_id, "contacts need a connected session")

    async def _existing(self, session_id: uuid.UUID, client: Client, number: str) -> str:
        """The JID WhatsApp has for `number`; NotFound when it is not on WhatsApp."""
        answer = (await self._lookup(session_id, client, [number]))[number]
        if not answer.exists or answer.jid is None:
            raise NotFound(f"{number} is not on WhatsApp")
        return answer.jid

    async def _lookup(
        self, session_id: uuid.UUID, client: Client, numbers: list[str]
    ) -> dict[str, NumberCheck]:
        """Answers for `numbers`: from the cache, else in one paced request for the rest."""
        unique = list(dict.fromkeys(numbers))
        found = await self._cache.get(session_id, unique)
        if len(found) == len(unique):
            return found
        async with self._pace.turn(session_id):
            # Another request may have asked for some of them while this one waited.
            found.update(await self._cache.get(session_id, [n for n in unique if n not in found]))
            missing = [n for n in unique if n not in found]
            if missing:
                answers = await self._ask(session_id, client, missing)
                await self._cache.put(session_id, answers)
                found.update({a.number: a for a in answers})
        for number in unique:  # a transport that skipped one: not on WhatsApp, not cached
            found.setdefault(number, NumberCheck(number, False, None))
        return found

    async def _ask(
        self, session_id: uuid.UUID, client: Client, numbers: list[str]
    ) -> list[NumberCheck]:
        with transport_errors("contact check"):
            try:
                return await client.contacts.check(numbers)
            except RateLimited:
                self._pace.slow_down(session_id)
                log.warning("session %s: WhatsApp refused a contact check as too fast", session_id)
                raise


def _check_view(answer: NumberCheck) -> dict[str, Any]:
    return {"number": answer.number, "exists": answer.exists, "jid": answer.jid}


def _picture_view(picture: Picture | None) -> dict[str, str] | None:
    return {"url": picture.url, "id": picture.id} if picture is not None else None


async def profile_jpeg(data: bytes) -> bytes:
    """The picture as WhatsApp takes it (profile_picture.py), converted in a thread."""
    return await asyncio.to_thread(to_profile_jpeg, data)


def build(actions: SessionActions, redis: RedisClient, settings: Settings) -> ContactActions:
    """The contact actions with the cache and the pace the settings describe."""
    cache = CheckCache(
        redis, settings.contacts_cache_positive_s, settings.contacts_cache_negative_s
    )
    pace = CheckPace(
        settings.contacts_check_interval_ms / 1000, settings.contacts_check_max_waiting
    )
    return ContactActions(actions, cache, pace)
