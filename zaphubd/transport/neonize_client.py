"""One session on neonize: the `Client` contract of `transport.base` over neonize 0.5.2.

Every call into neonize takes the transport's gate (connect and stop exclusively, the rest
shared), and every call that needs a live connection is refused with `NotConnected` by our
own state first: some of neonize's calls abort the whole process on a client that is not
connected (NEONIZE.md, hazard 2), so they must never reach it. Each connect is an `Attempt`
(a fresh neonize client); `neonize_dispatch` reports its events. The client never
reconnects by itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from neonize._binder import ProxySettings
from neonize.aioze.client import NewAClient
from neonize.exc import NeonizeError, PairPhoneError, SendMessageError
from neonize.proto.waCompanionReg.WAWebProtobufsCompanionReg_pb2 import DeviceProps
from neonize.utils.enum import ChatPresence as WaChatPresence
from neonize.utils.enum import ChatPresenceMedia, ClientName
from neonize.utils.enum import Presence as WaPresence
from neonize.utils.enum import ReceiptType as WaReceiptType

from zaphubd import proxies
from zaphubd.transport import neonize_inbound as inbound
from zaphubd.transport.base import (
    ConnectFailed,
    EventCallback,
    MediaUnavailable,
    NotConnected,
    PairingFailed,
    ProxyFailed,
    SendFailed,
    SendResult,
    TransportError,
)
from zaphubd.transport.chats import Chats
from zaphubd.transport.contacts import Contacts
from zaphubd.transport.events import MediaRef
from zaphubd.transport.neonize_attempt import Attempt, ConnectError
from zaphubd.transport.neonize_chats import NeonizeChats
from zaphubd.transport.neonize_contacts import NeonizeContacts
from zaphubd.transport.neonize_dispatch import Dispatcher
from zaphubd.transport.neonize_groups import NeonizeGroups
from zaphubd.transport.neonize_outbound import (
    UPLOAD_TYPES,
    InvalidRecipient,
    build_message,
    image_facts,
    parse_jid,
)
from zaphubd.transport.neonize_store import StoreChoice
from zaphubd.transport.outbound import Media, OutboundMessage, Poll, PresenceType

if TYPE_CHECKING:
    from zaphubd.transport.neonize import NeonizeTransport

log = logging.getLogger("zaphubd.transport.neonize")

T = TypeVar("T")

DEVICE_PROPS = DeviceProps(os="zaphubd", platformType=DeviceProps.CHROME)
# whatsmeow's errors that mean "no live connection" rather than a failed request.
_NOT_CONNECTED = ("websocket not connected", "doesn't contain a device JID", "client is nil")
#: Go's errors when the proxy itself failed: not reached (refused, no route) or credentials
#: refused. WhatsApp unreachable *through* a working proxy is not one of them: that retries.
_PROXY_FAILED = re.compile(
    r"proxyconnect tcp: dial|socks connect tcp \S+: dial tcp|proxy authentication required"
    r"|username/password authentication failed|authentication failed",
    re.IGNORECASE,
)
# Send errors that retrying cannot fix (whatsmeow's wording).
_PERMANENT = (
    "unknown server",
    "must be a user JID",
    "broadcast lists is not yet supported",
    "invalid inline bot",
    "failed to marshal",
    "server returned error 400",
    "server returned error 403",
    "server returned error 404",
    "server returned error 406",
)


class NeonizeClient:
    """One session's connection through neonize; see `transport.base.Client`."""

    def __init__(
        self,
        transport: NeonizeTransport,
        session_id: uuid.UUID,
        on_event: EventCallback,
        proxy: str | None = None,
    ) -> None:
        self._transport = transport
        self._session_id = session_id
        self._on_event = on_event
        #: whatsmeow's own proxy support carries the socket and the media (neonize 0.5.2's
        #: ProxySettings), so a media download goes the same way as the connection.
        self._proxy = ProxySettings(proxy_address=proxy) if proxy else None
        self._attempt: Attempt | None = None
        self._attempts = 0
        self._events = Dispatcher(
            transport, session_id, on_event, lambda: self._attempt, self._stop, self._connected
        )
        self._connecting = asyncio.Lock()
        self._groups = NeonizeGroups(self._call)
        self._contacts = NeonizeContacts(self._call)
        self._chats = NeonizeChats(self._call)

    @property
    def session_id(self) -> uuid.UUID:
        return self._session_id

    @property
    def contacts(self) -> Contacts:
        return self._contacts

    @property
    def store_app_name(self) -> str | None:
        """The shared store connections of the current attempt, if it has not ended."""
        attempt = self._attempt
        return attempt.store.app_name if attempt is not None and not attempt.ended else None

    @property
    def is_connected(self) -> bool:
        attempt = self._attempt
        return attempt is not None and not attempt.ended and attempt.state == "connected"

    @property
    def groups(self) -> NeonizeGroups:
        return self._groups

    @property
    def chats(self) -> Chats:
        return self._chats

    # -- lifecycle ----------------------------------------------------------------------

    async def connect(self) -> None:
        """Open a connection; returns once it shows a QR code or has logged in.

        Raises ConnectFailed when neonize's connect ends first (network unreachable).
        """
        async with self._connecting:  # a second caller finds the first one's attempt
            current = self._attempt
            if current is not None and not current.ended:
                return
            if current is not None:
                # Go keys clients by session id: the old one must be gone first.
                await self._stop(current)
            await self._open_new()

    async def _open_new(self) -> None:
        store = await self._transport.choose_store(self._session_id, self._attempts + 1)
        attempt = self.begin_attempt(store)
        opening = asyncio.create_task(
            attempt.open(self._transport.gate, self._events.on_task_end),
            name=f"neonize-connect:{self._session_id}",
        )
        # Shielded: a cancelled connect() must not cut the exclusive section short.
        opening.add_done_callback(lambda task: self._opened(attempt, task))
        try:
            await asyncio.shield(opening)
        except ConnectError as err:
            log.info("neonize session %s: connect failed: %s", self._session_id, err)
            if self._proxy is not None and _is_proxy_error(str(err)):
                where = proxies.without_credentials(self._proxy.proxy_address)
                raise ProxyFailed(f"proxy {where} failed: {err}") from err
            raise ConnectFailed(f"could not connect to WhatsApp: {err}") from err

    def _opened(self, attempt: Attempt, opening: asyncio.Task[None]) -> None:
        if attempt.task is not None:  # Go ran a connect: one more store handle (hazard 6)
            self._transport.metrics.connect_started()
        if not opening.cancelled():
            opening.exception()  # retrieved even when connect() was cancelled meanwhile

    def begin_attempt(self, store: StoreChoice | None = None) -> Attempt:
        """A fresh neonize client with every handler registered (connect() starts it).

        Tests call this directly to feed events through the new client without a network.
        """
        self._attempts += 1
        store = store or StoreChoice(str(self._transport.prepare_store(self._session_id)))
        neonize_client = NewAClient(
            store.name, props=DEVICE_PROPS, uuid=str(self._session_id), new_device=store.new_device
        )
        # Set after, not passed: given a jid, neonize keys the client by the phone number,
        # which two sessions of one account share; ours stays keyed by the session id.
        neonize_client.jid = _jid(store.jid) if store.jid else None
        _detach_finalizer(neonize_client)
        attempt = Attempt(self._attempts, neonize_client, store, self._proxy)
        self._events.wire(attempt)
        self._attempt = attempt
        return attempt

    async def disconnect(self) -> None:
        """Close the connection, keep the credentials, report nothing."""
        if self._attempt is not None:
            await self._stop(self._attempt)

    async def logout(self) -> bool:
        """Unlink the device when connected, close, and delete the credentials. True only
        when whatsmeow's logout request succeeded (or no device was ever linked)."""
        attempt = self._attempt
        confirmed = not await self._transport.has_credentials(self._session_id)
        if attempt is not None and self.is_connected:
            attempt.ended = True  # what follows is ours to know, not to report
            try:
                async with self._transport.gate.shared("logout"):
                    if not attempt.stopping:  # a stopped client would abort the process
                        await attempt.client.logout()
                        confirmed = True
            except NeonizeError as err:
                log.warning("neonize session %s: logout not confirmed: %s", self._session_id, err)
        await self.disconnect()
        await self._transport.remove_credentials(self._session_id)
        return confirmed

    async def pair_phone(self, phone: str) -> str:
        """A pairing code for `phone`: only while this connection shows QR codes."""
        digits = phone.strip().lstrip("+")
        if not (digits.isdigit() and 6 <= len(digits) <= 15):
            raise PairingFailed("the phone number must be 6-15 digits")
        self._showing_qr()
        try:
            async with self._transport.gate.shared("pair_phone"):
                attempt = self._showing_qr()
                code = await attempt.client.PairPhone(digits, True, client_name=ClientName.LINUX)
        except PairPhoneError as err:
            raise PairingFailed(f"WhatsApp refused the pairing code request: {err}") from err
        return str(code)

    # -- sending ------------------------------------------------------------------------

    async def send(self, message: OutboundMessage, message_id: str | None) -> SendResult:
        """Send one message. `message_id` is ignored: neonize 0.5.2 lets whatsmeow choose."""
        self._connected()
        if message.status_jid_list:
            raise SendFailed(
                "neonize cannot send a status to a statusJidList: whatsmeow sends a status "
                "to the audience of the account's status privacy setting",
                permanent=True,
            )
        try:
            to = parse_jid(message.to)
        except InvalidRecipient as err:
            raise SendFailed(str(err), permanent=True) from err
        try:
            proto = await self._prepare(message)
            async with self._transport.gate.shared("send"):
                response = await self._connected().client.send_message(to, proto)
        except NeonizeError as err:
            raise _send_error(err) from err
        return SendResult(str(response.ID), inbound.to_datetime(int(response.Timestamp)))

    async def _prepare(self, message: OutboundMessage) -> Any:
        content = message.content
        if not isinstance(content, Media):
            secret = secrets.token_bytes(32) if isinstance(content, Poll) else b""
            now_ms = int(time.time() * 1000)
            return build_message(message, now_ms=now_ms, secret=secret, me=self._me())
        facts = None
        if content.kind in ("image", "sticker"):
            facts = await asyncio.to_thread(image_facts, content.data)
        async with self._transport.gate.shared("upload"):
            upload = await self._connected().client.upload(content.data, UPLOAD_TYPES[content.kind])
        return build_message(message, upload=upload, facts=facts, me=self._me())

    def _me(self) -> str | None:
        """The account's JID (without device), once neonize knows it."""
        attempt = self._connected()
        return inbound.jid_text(attempt.client.me.JID) if attempt.has_me() else None

    async def send_presence(self, presence: PresenceType, chat: str | None = None) -> None:
        if presence in ("available", "unavailable"):
            state = WaPresence.AVAILABLE if presence == "available" else WaPresence.UNAVAILABLE
            await self._call("presence", lambda c: c.send_presence(state))
            return
        if chat is None:
            raise TransportError(f"a {presence} presence needs the chat it is shown in")
        jid = _jid(chat)
        typing = WaChatPresence.CHAT_PRESENCE_COMPOSING
        if presence == "paused":
            typing = WaChatPresence.CHAT_PRESENCE_PAUSED
        media = ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
        if presence == "recording":
            media = ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO
        await self._call("chat presence", lambda c: c.send_chat_presence(jid, typing, media))

    async def subscribe_presence(self, jid: str) -> None:
        target = _jid(jid)
        await self._call("presence subscription", lambda c: c.subscribe_presence(target))

    async def mark_read(self, chat: str, sender: str, message_ids: list[str]) -> None:
        chat_jid, sender_jid = _jid(chat), _jid(sender)
        await self._call(
            "mark read",
            lambda c: c.mark_read(
                *message_ids, chat=chat_jid, sender=sender_jid, receipt=WaReceiptType.READ
            ),
        )

    async def reject_call(self, caller: str, call_id: str) -> None:
        caller_jid = _jid(caller)
        await self._call("reject call", lambda c: c.reject_call(caller_jid, call_id))

    async def download_media(self, ref: MediaRef, max_bytes: int) -> bytes:
        """Fetch inbound media; refused before and after the download when over `max_bytes`."""
        self._connected()
        if ref.size is not None and ref.size > max_bytes:
            raise MediaUnavailable(f"the media is {ref.size} bytes, over the {max_bytes} limit")
        try:
            message = inbound.media_message(ref.token)
        except ValueError as err:
            raise MediaUnavailable(str(err)) from err
        try:
            data: bytes = await self._call("download", lambda c: c.download_any(message))
        except NotConnected:
            raise
        except TransportError as err:
            raise MediaUnavailable(str(err)) from err
        if len(data) > max_bytes:
            raise MediaUnavailable(f"the media is {len(data)} bytes, over the {max_bytes} limit")
        return data

    # -- the lifecycle check ------------------------------------------------------------

    def _connected(self) -> Attempt:
        attempt = self._attempt
        if attempt is None or attempt.ended or attempt.state != "connected":
            raise NotConnected("the WhatsApp session is not connected")
        return attempt

    def _showing_qr(self) -> Attempt:
        attempt = self._attempt
        if attempt is None or attempt.ended or attempt.state != "qr":
            raise PairingFailed(
                "a pairing code can only be requested while QR codes are shown: "
                "connect first and wait for the first QR code"
            )
        return attempt

    async def _call(self, what: str, call: Callable[[Any], Awaitable[T]]) -> T:
        """Run one neonize call on a connected client under the shared gate."""
        self._connected()
        try:
            async with self._transport.gate.shared(what):
                return await call(self._connected().client)
        except NeonizeError as err:
            if _says_not_connected(err):
                raise NotConnected(f"{what}: {err}") from err
            raise TransportError(f"{what} failed: {err}") from err

    async def _stop(self, attempt: Attempt) -> None:
        transport = self._transport
        if not await attempt.stop(transport.gate, transport.stop_settle_s):
            transport.keep_lost(attempt.client, self._session_id)


def _detach_finalizer(neonize_client: Any) -> None:
    # neonize stops a garbage-collected client from whichever thread collects it, outside
    # our gate, and by uuid: that is the session id, so it would stop the session's next
    # client. We stop every client ourselves.
    finalizer = getattr(neonize_client, "_stop_finalizer", None)
    if finalizer is not None:
        finalizer.detach()


def _jid(text: str) -> Any:
    try:
        return parse_jid(text)
    except InvalidRecipient as err:
        raise TransportError(str(err)) from err


def _is_proxy_error(text: str) -> bool:
    return _PROXY_FAILED.search(text) is not None


def _says_not_connected(err: NeonizeError) -> bool:
    text = str(err)
    return any(marker in text for marker in _NOT_CONNECTED)


def _send_error(err: NeonizeError) -> TransportError:
    if _says_not_connected(err):
        return NotConnected(f"send: {err}")
    text = str(err)
    permanent = isinstance(err, SendMessageError) and any(m in text for m in _PERMANENT)
    return SendFailed(f"send failed: {text}", permanent=permanent)
