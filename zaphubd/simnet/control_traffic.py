"""Control routes that make the phones act: send messages, read, type, call, run groups."""

from __future__ import annotations

import secrets

from aiohttp import web

from zaphubd import jid
from zaphubd.simnet import messaging, social
from zaphubd.simnet import validate as check
from zaphubd.simnet.content import ContentError, Normalised, media_url, normalise
from zaphubd.simnet.media import HTTP_CLIENT, MediaFetchFailed, fetch_url
from zaphubd.simnet.messaging import Envelope
from zaphubd.simnet.model import now_ms
from zaphubd.simnet.network import Network
from zaphubd.simnet.protocol import OpError, new_message_id
from zaphubd.simnet.validate import Body, ControlError, read_body, reply

INBOUND_FIELDS = (
    "from",
    "to",
    "message",
    "id",
    "push_name",
    "quoted",
    "mentions",
    "undecryptable",
    "forwarded",
)


class TrafficRoutes:
    def __init__(self, net: Network) -> None:
        self.net = net

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/control/inbound", self.inbound)
        app.router.add_post("/control/receipt", self.receipt)
        app.router.add_post("/control/presence", self.presence)
        app.router.add_post("/control/call", self.call)
        app.router.add_post("/control/group", self.group)
        app.router.add_post("/control/lid", self.lid)

    async def inbound(self, request: web.Request) -> web.Response:
        """A phone sends a message to a paired account or a group; the phone of a paired
        account may write to anyone (its devices get the copy)."""
        body = await read_body(request, INBOUND_FIELDS)
        sender = check.phone(body, "from")
        to = self._destination(body, sender)
        content = await _content(request, body.get("message"))
        try:
            env = Envelope(
                id=check.text(body, "id", required=False) or new_message_id(),
                sender=sender,
                to=to,
                body=content,
                timestamp=now_ms(),
                push_name=check.text(body, "push_name", required=False),
                quoted=messaging.parse_quoted(body.get("quoted")),
                mentions=messaging.parse_jids(body.get("mentions"), "mentions"),
                forwarded=check.flag(body, "forwarded"),
                undecryptable=(
                    check.choice(body, "undecryptable", ("retry", "permanent"))
                    if body.get("undecryptable") is not None
                    else None
                ),
            )
        except OpError as err:
            raise ControlError(400, err.message) from err
        try:
            ack = messaging.submit(self.net, env)
        except OpError as err:  # an edit or revoke WhatsApp refuses
            status = {"not_found": 404, "forbidden": 403}.get(err.code, 400)
            raise ControlError(status, err.message) from err
        return reply({"id": ack["id"], "timestamp": ack["ts"], "duplicate": ack["duplicate"]})

    async def lid(self, request: web.Request) -> web.Response:
        """Make `phone` a LID-addressed account: others see it as `lid` (generated when not
        given), with its phone number only once it shares it (`share_phone`)."""
        body = await read_body(request, ("phone", "lid", "share_phone"))
        phone = check.phone(body, "phone")
        lid = self.net.lids.get(phone) or f"{secrets.randbelow(10**14) + 10**14}@lid"
        if body.get("lid") is not None:
            lid = check.required_text(body, "lid", 40)
            if not jid.is_lid(lid) or not lid[:-4].isdigit():
                raise ControlError(400, "lid must be <digits>@lid")
        other = self.net.phone_of_lid(lid)
        if other is not None and other != phone:
            raise ControlError(409, f"{lid} is the LID of another account")
        self.net.lids[phone] = lid
        if check.flag(body, "share_phone"):
            self.net.shares_phone.add(phone)
        else:
            self.net.shares_phone.discard(phone)
        self.net.changed()
        return reply({"phone": phone, "lid": lid, "share_phone": phone in self.net.shares_phone})

    async def receipt(self, request: web.Request) -> web.Response:
        """The account `phone` got or read a message it received."""
        body = await read_body(request, ("phone", "message_id", "type", "from"))
        reader = check.phone(body, "phone")
        message_id = check.required_text(body, "message_id")
        kind = check.choice(body, "type", ("delivered", "read"))
        sender = check.address(body, "from") if body.get("from") is not None else None
        count = messaging.mark_read(self.net, reader, [message_id], sender, kind)
        if not count:
            raise ControlError(404, f"no message {message_id} in the mailbox of {reader}")
        return reply({"receipts": count})

    async def presence(self, request: web.Request) -> web.Response:
        body = await read_body(request, ("phone", "to", "presence"))
        phone = check.phone(body, "phone")
        state = check.choice(body, "presence", social.ACCOUNT_PRESENCE | social.CHAT_PRESENCE)
        if state in social.ACCOUNT_PRESENCE:
            to = check.address(body, "to") if body.get("to") is not None else None
            told = social.account_presence(self.net, phone, state == "available", to)
        else:
            told = social.chat_presence(self.net, phone, check.address(body, "to"), state)
        return reply({"notified": told})

    async def call(self, request: web.Request) -> web.Response:
        body = await read_body(request, ("from", "to", "call_id", "video", "action"))
        caller = check.phone(body, "from")
        callee = self._paired(check.phone(body, "to"))
        action = check.choice(body, "action", social.CALL_ACTIONS)
        call_id, told = social.call(
            self.net,
            caller,
            callee,
            action,
            call_id=check.text(body, "call_id", required=False, max_len=128),
            video=check.flag(body, "video"),
        )
        return reply({"call_id": call_id, "notified": told})

    async def group(self, request: web.Request) -> web.Response:
        body = await read_body(request, ("group", "action", "participants", "by", "subject"))
        group = social.change_group(
            self.net,
            check.group_jid(body, "group"),
            check.choice(body, "action", social.GROUP_ACTIONS),
            check.phones(body, "participants") if "participants" in body else [],
            check.phone(body, "by") if body.get("by") is not None else None,
            check.text(body, "subject", required=False, max_len=100),
        )
        return reply(group.as_dict())

    def _destination(self, body: Body, sender: str) -> str:
        to = check.address(body, "to")
        if jid.is_group(to):
            if to not in self.net.groups:
                raise ControlError(404, f"group {to} does not exist")
            return to
        if self.net.is_paired_account(sender):  # someone sees it: the sender's devices
            if jid.is_lid(to) and self.net.phone_of_lid(to) is None:
                raise ControlError(404, f"no account has the LID {to}")
            if jid.is_lid(to) or to.endswith("@" + jid.USER_SERVER):
                return to
        if not to.endswith("@" + jid.USER_SERVER):
            raise ControlError(400, "to must be the phone of a paired account, or a group")
        self._paired(jid.phone_of(to))
        return to

    def _paired(self, phone: str) -> str:
        if not self.net.is_paired_account(phone):
            raise ControlError(404, f"no device is paired with account {phone}")
        return phone


async def _content(request: web.Request, message: object) -> Normalised:
    url = media_url(message)
    try:
        fetched = await fetch_url(request.app[HTTP_CLIENT], url) if url else None
        return normalise(message, fetched)
    except (ContentError, MediaFetchFailed) as err:
        raise ControlError(400, f"message: {err}") from err
