"""`zaphubd standalone`: one WhatsApp session on neonize, in a terminal, without the daemon.

For trying a phone out: it prints the QR code to scan, logs the connection's state, answers
"pong" to every "ping" it receives, and on Ctrl-C or SIGTERM closes the connection without
logging the device out (the next run resumes without a QR code). The session id is created
once and kept in the auth directory, so the credentials are found again.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import signal
import uuid
from pathlib import Path

import segno

from zaphubd.backoff import backoff_delay
from zaphubd.transport.base import Client, ConnectFailed, TransportError
from zaphubd.transport.events import (
    Connected,
    Disconnected,
    LoggedOut,
    MessageIn,
    Qr,
    TransportEvent,
)
from zaphubd.transport.neonize import NeonizeTransport
from zaphubd.transport.outbound import OutboundMessage, Quoted, Text

log = logging.getLogger("zaphubd.standalone")

SESSION_FILE = "standalone-session"
RETRY_BASE_S = 5.0
RETRY_CAP_S = 60.0
#: Endings after which retrying cannot help: the user has to act (scan, re-pair, wait).
FINAL = frozenset({"qr_timeout", "replaced", "banned"})


def reply_for(event: TransportEvent) -> OutboundMessage | None:
    """The answer to an inbound message: "pong", quoting it, for a text that says "ping"."""
    if not isinstance(event, MessageIn) or event.type != "text" or event.from_me:
        return None
    text = str(event.content.get("text", ""))
    if text.strip().lower() != "ping":
        return None
    return OutboundMessage(event.chat, Text("pong"), quoted=Quoted(event.id, event.sender, text))


def qr_text(code: str) -> str:
    """The QR code drawn with block characters, for a terminal."""
    out = io.StringIO()
    segno.make(code).terminal(out=out, compact=True)
    return out.getvalue()


def session_id_for(auth_dir: Path) -> uuid.UUID:
    """The standalone session's id: read from the auth directory, created there once."""
    auth_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = auth_dir / SESSION_FILE
    try:
        return uuid.UUID(path.read_text().strip())
    except FileNotFoundError:
        session_id = uuid.uuid4()
        path.write_text(f"{session_id}\n")
        path.chmod(0o600)
        return session_id


class Standalone:
    """Reacts to the session's events and tells `run_standalone` when a connection ended."""

    def __init__(self) -> None:
        self.client: Client | None = None
        self.ended: asyncio.Queue[Disconnected | LoggedOut] = asyncio.Queue()

    async def on_event(self, event: TransportEvent) -> None:
        if isinstance(event, Qr):
            print(qr_text(event.code), flush=True)
            log.info("scan this QR code with WhatsApp (valid %.0f s)", event.expires_in_s)
        elif isinstance(event, Connected):
            log.info("connected as +%s (%s)", event.phone, event.push_name or "no name")
        elif isinstance(event, Disconnected | LoggedOut):
            await self.ended.put(event)
        elif isinstance(event, MessageIn):
            await self._answer(event)

    async def _answer(self, message: MessageIn) -> None:
        log.info("%s from %s: %s", message.type, message.sender, message.content)
        reply = reply_for(message)
        if reply is None or self.client is None:
            return
        try:
            await self.client.send(reply, None)
        except TransportError as err:
            log.warning("could not answer %s: %s", message.sender, err)
        else:
            log.info("answered pong to %s", message.sender)


async def run_standalone(auth_dir: Path) -> None:
    """Run until Ctrl-C or SIGTERM; reconnect after network failures with backoff."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    transport = NeonizeTransport(auth_dir, max_sessions=1)
    try:
        await transport.start()
        session_id = await asyncio.to_thread(session_id_for, auth_dir)
        log.info("standalone session %s, credentials in %s", session_id, auth_dir)
        app = Standalone()
        app.client = transport.client(session_id, app.on_event)
        await _supervise(app, app.client, stop)
    finally:
        await transport.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        log.info("stopped")


async def _supervise(app: Standalone, client: Client, stop: asyncio.Event) -> None:
    failures = 0
    while not stop.is_set():
        ending = await _connect_once(app, client, stop)
        if ending is None:
            return
        if isinstance(ending, LoggedOut) or ending.reason in FINAL:
            log.warning("session ended (%s); run again to start over", _describe(ending))
            return
        delay = backoff_delay(failures, RETRY_BASE_S, RETRY_CAP_S)
        failures += 1
        log.warning("disconnected (%s); retrying in %.0f s", _describe(ending), delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


async def _connect_once(
    app: Standalone, client: Client, stop: asyncio.Event
) -> Disconnected | LoggedOut | None:
    """One connection until it ends (returned) or we are asked to stop (None)."""
    try:
        await client.connect()
    except ConnectFailed as err:
        return Disconnected("network", str(err))
    ended = asyncio.ensure_future(app.ended.get())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({ended, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if ended.done():
        return ended.result()
    ended.cancel()
    return None


def _describe(ending: Disconnected | LoggedOut) -> str:
    if isinstance(ending, LoggedOut):
        return f"logged out: {ending.reason}"
    return f"{ending.reason}: {ending.detail}" if ending.detail else ending.reason
