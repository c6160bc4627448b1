"""Control routes for groups beyond `/control/group`: a phone changes settings, gets or
revokes the invite link, joins by a code or leaves, each checked as WhatsApp checks the
phone's own request (`groups.py`); the full state of a group; numbers not on WhatsApp."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from zaphubd.simnet import groups
from zaphubd.simnet import validate as check
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import OpError
from zaphubd.simnet.validate import ControlError, read_body, reply

#: The refusals of `groups.py` as HTTP statuses of the control API.
T = TypeVar("T")
_STATUS = {"not_found": 404, "not_member": 403, "forbidden": 403, "bad_request": 400}


class GroupRoutes:
    def __init__(self, net: Network) -> None:
        self.net = net

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/control/groups/{group}", self.state)
        app.router.add_post("/control/groups/{group}/settings", self.settings)
        app.router.add_post("/control/groups/{group}/invite", self.invite)
        app.router.add_post("/control/groups/{group}/leave", self.leave)
        app.router.add_post("/control/groups-join", self.join)

    async def state(self, request: web.Request) -> web.Response:
        group = self.net.groups.get(_path_group(request))
        if group is None:
            raise ControlError(404, "that group does not exist")
        return reply(group.as_dict())

    async def settings(self, request: web.Request) -> web.Response:
        body = await read_body(request, ("by", "subject", "description", "announce", "locked"))
        by = check.phone(body, "by")
        changes = {k: v for k, v in body.items() if k != "by"}
        group = _refusals(lambda: groups.update(self.net, _path_group(request), by, changes))
        return reply(group.as_dict())

    async def invite(self, request: web.Request) -> web.Response:
        body = await read_body(request, ("by", "revoke"))
        by, revoke = check.phone(body, "by"), check.flag(body, "revoke")
        link = _refusals(lambda: groups.invite_link(self.net, _path_group(request), by, revoke))
        return reply({"link": link, "code": link.removeprefix(groups.INVITE_PREFIX)})

    async def leave(self, request: web.Request) -> web.Response:
        phone = check.phone(await read_body(request, ("phone",)), "phone")
        _refusals(lambda: groups.leave(self.net, _path_group(request), phone))
        return reply(self.net.groups[_path_group(request)].as_dict())

    async def join(self, request: web.Request) -> web.Response:
        body = await read_body(request, ("phone", "code"))
        phone = check.phone(body, "phone")
        code = check.required_text(body, "code", 64).removeprefix(groups.INVITE_PREFIX)
        return reply(_refusals(lambda: groups.join(self.net, phone, code)).as_dict())


def _path_group(request: web.Request) -> str:
    return check.group_jid({"group": request.match_info["group"]}, "group")


def _refusals(action: Callable[[], T]) -> T:
    try:
        return action()
    except OpError as err:
        raise ControlError(_STATUS.get(err.code, 400), err.message) from err
