"""The contacts contract (`transport.contacts`) on simnet: one device request per call.

Pictures are served by simnet's media CDN; their URL is built from the simnet server's
address, as WhatsApp's answers carry a CDN URL.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from zaphubd.simnet.protocol import Frame
from zaphubd.transport.contacts import ContactProfile, NumberCheck, OwnProfile, Picture

Request = Callable[[Frame], Awaitable[Frame]]


class SimnetContacts:
    def __init__(self, request: Request, server: URL) -> None:
        self._request = request
        # The device socket is ws(s)://host/ws; the CDN is http(s)://host/media/<id>.
        scheme = "https" if server.scheme in ("wss", "https") else "http"
        self._cdn = server.with_scheme(scheme).with_path("/media/").with_query(None)

    async def check(self, numbers: Sequence[str]) -> list[NumberCheck]:
        got = await self._request({"op": "contacts_check", "numbers": list(numbers)})
        return [NumberCheck(r["number"], bool(r["exists"]), r["jid"]) for r in got["results"]]

    async def profile(self, jid: str) -> ContactProfile:
        got = await self._request({"op": "contact_profile", "jid": jid})
        set_at = got.get("about_set_at")
        return ContactProfile(
            jid=got["jid"],
            about=got.get("about"),
            about_set_at=datetime.fromtimestamp(set_at / 1000, UTC) if set_at else None,
            picture=self._picture(got.get("picture")),
        )

    async def block(self, jid: str) -> None:
        await self._request({"op": "block", "jid": jid, "action": "block"})

    async def unblock(self, jid: str) -> None:
        await self._request({"op": "block", "jid": jid, "action": "unblock"})

    async def blocklist(self) -> list[str]:
        got = await self._request({"op": "blocklist"})
        return [str(j) for j in got["jids"]]

    async def own_profile(self) -> OwnProfile:
        got = await self._request({"op": "own_profile"})
        return OwnProfile(
            jid=got["jid"],
            push_name=got.get("push_name"),
            about=got.get("about"),
            picture=self._picture(got.get("picture")),
        )

    async def set_push_name(self, name: str) -> None:
        await self._request({"op": "set_profile", "push_name": name})

    async def set_about(self, about: str) -> None:
        await self._request({"op": "set_profile", "about": about})

    async def set_picture(self, jpeg: bytes) -> str:
        data = base64.b64encode(jpeg).decode("ascii")
        got = await self._request({"op": "set_picture", "data": data})
        return str(got["id"])

    def _picture(self, value: Any) -> Picture | None:
        if not isinstance(value, dict):
            return None
        return Picture(url=str(self._cdn.join(URL(str(value["media"])))), id=str(value["id"]))
