"""Control routes about accounts: register numbers on the simulated WhatsApp, give them an
about text and a picture, inspect what others see and whom they block, and set the pace
at which a device may check numbers.
"""

from __future__ import annotations

from aiohttp import web

from zaphubd.simnet import accounts, contacts
from zaphubd.simnet import validate as check
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import OpError
from zaphubd.simnet.validate import ControlError, read_body, reply


class AccountRoutes:
    def __init__(self, net: Network) -> None:
        self.net = net

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/control/accounts", self.register)
        app.router.add_get("/control/accounts/{phone}", self.show)
        app.router.add_post("/control/block", self.block)
        app.router.add_post("/control/check-limit", self.check_limit)

    async def register(self, request: web.Request) -> web.Response:
        """`{phone, push_name?, about?, picture?}`: the number is on WhatsApp from now on;
        the fields given replace the account's (picture: base64 JPEG or PNG)."""
        body = await read_body(request, ("phone", "push_name", "about", "picture"))
        phone = check.phone(body, "phone")
        name = check.text(body, "push_name", required=False, max_len=accounts.PUSH_NAME_MAX_CHARS)
        about = body.get("about")
        if about is not None and (
            not isinstance(about, str) or len(about) > accounts.ABOUT_MAX_CHARS
        ):
            raise ControlError(400, f"about must be a string of 0-{accounts.ABOUT_MAX_CHARS}")
        picture = self._picture(body.get("picture"))
        directory = self.net.directory
        directory.registered.add(phone)
        if name is not None:
            contacts.set_push_name(self.net, phone, name)
        if about is not None:
            directory.set_about(phone, about)
        if picture is not None:
            directory.set_picture(self.net.media, phone, picture)
        self.net.changed()
        return reply(self._view(request, phone))

    async def show(self, request: web.Request) -> web.Response:
        phone = check.phone({"phone": request.match_info["phone"]}, "phone")
        return reply(self._view(request, phone))

    async def block(self, request: web.Request) -> web.Response:
        """`{phone, jid, action: block|unblock}`: the phone blocks or unblocks a contact."""
        body = await read_body(request, ("phone", "jid", "action"))
        phone = check.phone(body, "phone")
        target = check.phone(body, "jid")
        blocked = self.net.directory.blocked.setdefault(phone, set())
        if check.choice(body, "action", ("block", "unblock")) == "block":
            blocked.add(target)
        else:
            blocked.discard(target)
        self.net.changed()
        return reply(self._view(request, phone))

    async def check_limit(self, request: web.Request) -> web.Response:
        """`{interval_ms}`: a device's check requests must be this far apart (0: no limit)."""
        body = await read_body(request, ("interval_ms",))
        interval = int(check.number(body, "interval_ms", 0, 3_600_000, integer=True))
        self.net.directory.check_interval_ms = interval
        self.net.changed()
        return reply({"interval_ms": interval})

    def _picture(self, value: object) -> bytes | None:
        if value is None:
            return None
        try:
            return contacts.decode_picture(value)
        except OpError as err:
            raise ControlError(400, f"picture: {err.message}") from err

    def _view(self, request: web.Request, phone: str) -> dict[str, object]:
        view = contacts.describe(self.net, phone)
        picture = view["picture"]
        if isinstance(picture, dict):
            url = request.url.with_path(f"/media/{picture['media']}").with_query(None)
            view["picture"] = {"id": picture["id"], "url": str(url)}
        blocked = sorted(self.net.directory.blocked.get(phone, ()))
        return {"phone": phone, "exists": contacts.exists(self.net, phone), **view} | {
            "blocked": blocked
        }
