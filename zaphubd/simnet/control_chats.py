"""Control routes for chat settings: the phone archives, pins or mutes a chat; and what an
account's chat settings are now."""

from __future__ import annotations

from aiohttp import web

from zaphubd.simnet import chats
from zaphubd.simnet import validate as check
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import OpError
from zaphubd.simnet.validate import ControlError, read_body, reply

FIELDS = ("phone", "chat", "archived", "pinned", "muted", "muted_until")


class ChatRoutes:
    def __init__(self, net: Network) -> None:
        self.net = net

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/control/chat-settings", self.change)
        app.router.add_get("/control/chat-settings/{phone}", self.show)

    async def change(self, request: web.Request) -> web.Response:
        """`{phone, chat, archived?, pinned?, muted?, muted_until? (ms)}`: the account's phone
        changes the chat, as WhatsApp's own client does (archiving unpins); every device of
        the account is told. Answers the chat's settings and how many devices were told."""
        body = await read_body(request, FIELDS)
        phone = check.phone(body, "phone")
        if body.get("archived") is True and body.get("pinned") is True:
            raise ControlError(400, "an archived chat cannot be pinned")
        frame = {"chat": body.get("chat"), "archived": body.get("archived")}
        frame["pinned"] = False if body.get("archived") is True else body.get("pinned")
        if body.get("muted") is not None or body.get("muted_until") is not None:
            frame["mute"] = {"muted": body.get("muted", True), "until": body.get("muted_until")}
        try:
            chat = chats.chat_of(frame)
            change = chats.parse_change(frame)
            settings = chats.apply(self.net, phone, chat, change)
        except OpError as err:
            raise ControlError(400, err.message) from err
        told = chats.tell(self.net, phone, chat, change, skip=None)
        return reply({"chat": chat, **settings, "devices": told})

    async def show(self, request: web.Request) -> web.Response:
        phone = check.phone({"phone": request.match_info["phone"]}, "phone")
        return reply(chats.settings_of(self.net, phone))
