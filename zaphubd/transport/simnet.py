"""The simnet transport: zaphubd sessions on the simulated WhatsApp network (SIMNET.md).

One shared aiohttp ClientSession carries every client's WebSocket and media downloads. The
wire format stays inside `zaphubd.simnet` (framing, the connection's tasks, and the codec
from outbound messages to frames and from frames to events); this module maps it onto the
`Transport`/`Client` contract: credentials on disk, events, and the errors of `base.py`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from pathlib import Path

import aiohttp
import orjson
from aiohttp_socks import ProxyConnectionError, ProxyConnector, ProxyError, ProxyTimeoutError
from yarl import URL

from zaphubd import proxies
from zaphubd.simnet import codec
from zaphubd.simnet.protocol import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, Frame, new_message_id
from zaphubd.simnet.wsclient import CLOSE_TIMEOUT_S, Connection, Lost, Rejected
from zaphubd.transport import simnet_chats
from zaphubd.transport.base import (
    ConnectFailed,
    EventCallback,
    MediaUnavailable,
    NotConnected,
    NotPermitted,
    PairingFailed,
    ProxyFailed,
    RateLimited,
    SendFailed,
    SendResult,
    TargetNotFound,
    TransportError,
)
from zaphubd.transport.chats import Chats
from zaphubd.transport.contacts import Contacts
from zaphubd.transport.credentials import CredentialStore, FileCredentials
from zaphubd.transport.events import (
    Connected,
    Disconnected,
    DisconnectReason,
    KeepAlive,
    LoggedOut,
    MediaRef,
    MessageUnreadable,
    Qr,
    TransportEvent,
)
from zaphubd.transport.outbound import OutboundMessage, PresenceType
from zaphubd.transport.simnet_contacts import SimnetContacts
from zaphubd.transport.simnet_groups import SimnetGroups

log = logging.getLogger("zaphubd.transport.simnet")

CREDS_FILE = "simnet-creds.json"
#: simnet's refusal codes (OpError.code) and the transport error each one is.
REFUSALS: dict[str, type[TransportError]] = {
    "not_connected": NotConnected,
    "not_found": TargetNotFound,
    "unknown_group": TargetNotFound,
    "unknown_lid": TargetNotFound,
    "not_member": NotPermitted,
    "forbidden": NotPermitted,
    "rate_limited": RateLimited,
}
#: whatsmeow pings every 20-30 s; simnet's client every `keepalive_s` (20 s at most).
KEEPALIVE_S = 20.0
CONNECT_TIMEOUT_S = 10.0
MEDIA_TIMEOUT_S = 60.0


class SimnetTransport:
    """Makes simnet clients. `url` is the device WebSocket (ZAPHUB_SIMNET_URL); credentials
    live in `store` (Postgres in the daemon), by default in files under `auth_base`."""

    name = "simnet"
    accepts_message_id = True

    def __init__(
        self,
        url: str,
        auth_base: Path,
        *,
        store: CredentialStore | None = None,
        request_timeout_s: float = 30.0,
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self.url = URL(url)
        self.keepalive_s = keepalive_s
        self.auth_base = auth_base
        self.files = FileCredentials(auth_base, CREDS_FILE)
        self.store: CredentialStore = store or self.files
        self.request_timeout_s = request_timeout_s
        self._http: aiohttp.ClientSession | None = None
        self._clients: weakref.WeakSet[SimnetClient] = weakref.WeakSet()

    async def start(self) -> None:
        # No connection limit: every session holds one WebSocket for as long as it runs.
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
        self._http = aiohttp.ClientSession(connector=connector, timeout=timeout)

    async def close(self) -> None:
        await asyncio.gather(*(client.disconnect() for client in list(self._clients)))
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise TransportError("the simnet transport is not started")
        return self._http

    def new_message_id(self) -> str:
        return new_message_id()

    def client(
        self, session_id: uuid.UUID, on_event: EventCallback, *, proxy: str | None = None
    ) -> SimnetClient:
        client = SimnetClient(self, session_id, on_event, proxy)
        self._clients.add(client)
        return client

    def creds_path(self, session_id: uuid.UUID) -> Path:
        """Where the file store keeps them (the default store, used by the tests)."""
        return self.files.path(session_id)

    async def has_credentials(self, session_id: uuid.UUID) -> bool:
        return await self.store.load(session_id) is not None

    async def remove_credentials(self, session_id: uuid.UUID) -> None:
        await self.store.delete(session_id)


class SimnetClient:
    """One session's simnet connection; see `zaphubd.transport.base` for the contract."""

    def __init__(
        self,
        transport: SimnetTransport,
        session_id: uuid.UUID,
        on_event: EventCallback,
        proxy: str | None = None,
    ) -> None:
        self._transport = transport
        self._session_id = session_id
        self._on_event = on_event
        self._conn: Connection | None = None
        self._connected = False
        self._proxy = proxy
        self._proxied: aiohttp.ClientSession | None = None  # through `proxy`, made on use
        self._groups = SimnetGroups(self.request)
        self._contacts = SimnetContacts(self.request, transport.url)
        self._chats = simnet_chats.SimnetChats(self.request)

    def _http(self) -> aiohttp.ClientSession:
        """The transport's shared session, or this session's own through its proxy (a
        connector holds one proxy)."""
        if self._proxy is None:
            return self._transport.http
        if self._proxied is None or self._proxied.closed:
            connector = ProxyConnector.from_url(self._proxy, limit=0)
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
            self._proxied = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self._proxied

    @property
    def session_id(self) -> uuid.UUID:
        return self._session_id

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def groups(self) -> SimnetGroups:
        return self._groups

    @property
    def contacts(self) -> Contacts:
        return self._contacts

    @property
    def chats(self) -> Chats:
        return self._chats

    async def connect(self) -> None:
        old = self._conn
        if old is not None and old.open:
            return
        if old is not None:  # what is left of the previous connection must not report later
            await self._close(old)
        creds = await self._transport.store.load(self._session_id)
        ws = await self._open()
        self._conn = Connection(
            ws,
            f"simnet-{self._session_id}",
            self._handle,
            self._ended,
            keepalive=(self._transport.keepalive_s, self._keepalive),
        )
        self._conn.push(self._hello(creds))

    async def disconnect(self) -> None:
        if self._conn is not None:
            await self._close(self._conn)
        if self._proxied is not None:
            await self._proxied.close()
            self._proxied = None

    async def logout(self) -> bool:
        conn = self._conn
        confirmed = True
        if conn is not None and self._connected:
            conn.by_us = True
            try:
                await conn.request({"op": "logout"}, self._transport.request_timeout_s)
            except (Lost, Rejected, TimeoutError) as err:
                log.warning("simnet session %s: logout not confirmed: %s", self._session_id, err)
                confirmed = False
            await self._close(conn)
        else:
            await self.disconnect()
            creds = await self._transport.store.load(self._session_id)
            if creds is not None:
                confirmed = await self._unlink_offline(creds)
        await self._transport.remove_credentials(self._session_id)
        return confirmed

    async def pair_phone(self, phone: str) -> str:
        conn = self._conn
        if conn is None or self._connected or not conn.open:
            raise PairingFailed("pairing codes are only available while QR codes are shown")
        try:
            data = await conn.request(
                {"op": "pair_phone", "phone": phone}, self._transport.request_timeout_s
            )
        except Rejected as err:
            raise PairingFailed(err.message) from err
        except (Lost, TimeoutError) as err:
            raise PairingFailed("the connection ended before a pairing code came") from err
        return str(data["code"])

    async def send(self, message: OutboundMessage, message_id: str | None) -> SendResult:
        conn = self._logged_in()
        frame = codec.encode_send(message, message_id or new_message_id())
        try:
            data = await conn.request(frame, self._transport.request_timeout_s)
        except Rejected as err:
            if err.code == "not_connected":
                raise NotConnected(err.message) from err
            raise SendFailed(err.message, permanent=err.permanent) from err
        except Lost as err:
            raise SendFailed("the connection ended before the server acknowledged") from err
        except TimeoutError as err:
            raise SendFailed("the server did not acknowledge the send in time") from err
        return SendResult(message_id=str(data["id"]), timestamp=codec.from_ms(data["ts"]))

    async def send_presence(self, presence: PresenceType, chat: str | None = None) -> None:
        await self._call({"op": "presence", "presence": presence, "chat": chat})

    async def subscribe_presence(self, jid: str) -> None:
        await self._call({"op": "subscribe", "jid": jid})

    async def mark_read(self, chat: str, sender: str, message_ids: list[str]) -> None:
        await self._call({"op": "read", "chat": chat, "sender": sender, "ids": message_ids})

    async def reject_call(self, caller: str, call_id: str) -> None:
        await self._call({"op": "reject_call", "caller": caller, "call_id": call_id})

    async def download_media(self, ref: MediaRef, max_bytes: int) -> bytes:
        media_id = ref.token.get("media_id")
        if not isinstance(media_id, str) or not media_id.isalnum():
            raise MediaUnavailable("this media reference does not come from simnet")
        url = self._transport.url.join(URL("media/" + media_id))
        url = url.with_scheme("https" if url.scheme == "wss" else "http")
        try:
            return await _download(self._http(), url, max_bytes)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise MediaUnavailable(f"simnet media download failed: {err}") from err

    # -- connection -----------------------------------------------------------------------

    def _hello(self, creds: Frame | None) -> Frame:
        return {
            "op": "hello",
            "v": PROTOCOL_VERSION,
            "device": str(self._session_id),
            "creds": creds,
        }

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        try:
            # No WebSocket heartbeat: like whatsmeow, the client pings at the protocol level
            # and reports what goes unanswered; the session decides when the link is dead.
            return await self._http().ws_connect(
                self._transport.url,
                max_msg_size=MAX_MESSAGE_BYTES,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT_S),
            )
        except ProxyError as err:
            if not proxies.target_unreachable(err.error_code):
                raise ProxyFailed(self._proxy_failure(err)) from err
            where = proxies.without_credentials(self._proxy or "")
            raise ConnectFailed(
                f"simnet at {self._transport.url} unreachable through proxy {where}: {err}"
            ) from err
        except (ProxyConnectionError, ProxyTimeoutError) as err:
            raise ProxyFailed(self._proxy_failure(err)) from err
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            if self._proxy is not None and isinstance(err, aiohttp.ClientConnectorError):
                raise ProxyFailed(self._proxy_failure(err)) from err
            raise ConnectFailed(
                f"simnet at {self._transport.url} refused or is down: {err}"
            ) from err

    def _proxy_failure(self, err: Exception) -> str:
        assert self._proxy is not None
        return f"proxy {proxies.without_credentials(self._proxy)} failed: {err}"

    async def _close(self, conn: Connection) -> None:
        conn.by_us = True
        if self._conn is conn:
            self._connected = False
            self._conn = None
        await conn.close()

    async def _unlink_offline(self, creds: Frame) -> bool:
        """Unlink a device that is not connected: present its credentials once, to log out.
        True once the server said the device is logged out."""
        try:
            ws = await self._open()
        except ConnectFailed as err:
            log.warning("simnet session %s: could not unlink: %s", self._session_id, err)
            return False
        try:
            await ws.send_bytes(orjson.dumps([self._hello(creds) | {"logout": True}]))
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                async for msg in ws:  # the server answers logged_out and closes
                    if msg.type == aiohttp.WSMsgType.BINARY and _says_logged_out(msg.data):
                        return True
        except (TimeoutError, aiohttp.ClientError) as err:
            log.warning("simnet session %s: unlink not confirmed: %s", self._session_id, err)
        finally:
            await ws.close()
        return False

    async def _handle(self, conn: Connection, frame: Frame) -> None:
        op = frame["op"]
        if op == "qr":
            await self._emit(Qr(code=frame["code"], expires_in_s=float(frame["expires_in_s"])))
        elif op == "paired":
            await self._transport.store.save(self._session_id, frame["creds"])
        elif op == "connected":
            self._connected = self._conn is conn
            await self._emit(Connected(frame["jid"], frame["phone"], frame.get("push_name")))
        elif op == "logged_out":
            await self._logged_out(conn, str(frame.get("reason", "")))
        elif op == "error":
            log.warning("simnet session %s: server error: %s", self._session_id, frame)
        elif op == simnet_chats.OP:
            await self._emit(simnet_chats.decode(frame))
        else:
            event = codec.decode_event(frame)
            if event is not None:
                await self._emit(event)
            if isinstance(event, MessageUnreadable):
                # whatsmeow's retry receipt: the sender's phone sends the message again.
                conn.push({"op": "retry", "id": event.id})

    async def _keepalive(self, ok: bool) -> None:
        if self._connected:
            await self._on_event(KeepAlive(ok=ok))

    async def _ended(self, conn: Connection, reason: DisconnectReason) -> None:
        if self._conn is conn:
            self._connected = False
        if not conn.by_us and not conn.logged_out:
            await self._emit(Disconnected(reason, conn.detail, conn.retry_after_s))

    async def _logged_out(self, conn: Connection, reason: str) -> None:
        conn.logged_out = True
        self._connected = False
        await self._transport.remove_credentials(self._session_id)
        if not conn.by_us:
            await self._emit(LoggedOut(reason=reason))

    async def _emit(self, event: TransportEvent) -> None:
        try:
            await self._on_event(event)
        except Exception:
            log.exception(
                "simnet session %s: event callback failed on %s",
                self._session_id,
                type(event).__name__,
            )

    def _logged_in(self) -> Connection:
        if self._conn is None or not self._connected:
            raise NotConnected("the simnet session is not connected")
        return self._conn

    async def request(self, frame: Frame) -> Frame:
        """One request on the logged-in connection: its result, or the transport error its
        refusal stands for (see `REFUSALS`)."""
        try:
            return await self._logged_in().request(frame, self._transport.request_timeout_s)
        except Rejected as err:
            raise REFUSALS.get(err.code, TransportError)(err.message) from err
        except (Lost, TimeoutError) as err:
            raise NotConnected("the connection ended before the server answered") from err

    async def _call(self, frame: Frame) -> None:
        await self.request(frame)


async def _download(http: aiohttp.ClientSession, url: URL, max_bytes: int) -> bytes:
    timeout = aiohttp.ClientTimeout(total=MEDIA_TIMEOUT_S)
    async with http.get(url, timeout=timeout) as response:
        if response.status != 200:
            raise MediaUnavailable(f"simnet media answered HTTP {response.status}")
        if response.content_length is not None and response.content_length > max_bytes:
            raise MediaUnavailable(f"media is {response.content_length} bytes, over {max_bytes}")
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body.extend(chunk)
            if len(body) > max_bytes:
                raise MediaUnavailable(f"media is larger than {max_bytes} bytes")
        return bytes(body)


def _says_logged_out(data: bytes) -> bool:
    try:
        frames = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return any(isinstance(f, dict) and f.get("op") == "logged_out" for f in frames)
