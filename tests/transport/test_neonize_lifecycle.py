"""The neonize client's lifecycle offline: connect failures, the gate, the executor, the
state checks, and what ends a connection.

WhatsApp cannot be reached from here, so a real connect fails in milliseconds ("no such
host"): that exercises neonize's real connect and stop. Calls that need a live connection are
answered by the `go` recorder, which stands in for neonize's handle on the Go library.
All tests share the session-scoped event loop (neonize delivers events to one loop).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import stat
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from neonize.proto import Neonize_pb2 as npb
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as wa

from tests.transport.conftest import (
    GoRecorder,
    Session,
    deliver,
    deliver_qr,
    device,
    message_event,
    next_seq,
    wait_until,
)
from zaphubd.transport import neonize_dispatch, neonize_updates
from zaphubd.transport.base import (
    ConnectFailed,
    MediaUnavailable,
    NotConnected,
    PairingFailed,
    SendFailed,
)
from zaphubd.transport.events import Disconnected, LoggedOut, MediaRef, MessageIn, Qr
from zaphubd.transport.neonize import NeonizeTransport
from zaphubd.transport.neonize_client import NeonizeClient
from zaphubd.transport.neonize_gate import GateEvent
from zaphubd.transport.outbound import Media, OutboundMessage, Text

pytestmark = pytest.mark.asyncio(loop_scope="session")

ANA = "5511987654321@s.whatsapp.net"
NOT_CONNECTED_CALLS: dict[str, Callable[[NeonizeClient], Awaitable[Any]]] = {
    "send": lambda c: c.send(OutboundMessage(ANA, Text("hi")), None),
    "presence": lambda c: c.send_presence("available"),
    "chat presence": lambda c: c.send_presence("composing", ANA),
    "subscribe": lambda c: c.subscribe_presence(ANA),
    "mark read": lambda c: c.mark_read(ANA, ANA, ["3EB0A"]),
    "reject call": lambda c: c.reject_call(ANA, "CALL1"),
    "download": lambda c: c.download_media(MediaRef("image", "image/jpeg", 10, {}), 100),
}


# -- connecting offline ------------------------------------------------------------------


async def test_offline_connects_fail_fast_and_the_loop_stays_responsive(
    transport: NeonizeTransport,
) -> None:
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)

    ticking = asyncio.create_task(ticker())
    clients = [Session(transport).client for _ in range(50)]
    started = time.monotonic()
    results = await asyncio.gather(*(c.connect() for c in clients), return_exceptions=True)
    elapsed = time.monotonic() - started
    stop.set()
    await ticking
    assert all(isinstance(r, ConnectFailed) for r in results), results
    assert "no such host" in str(results[0]) or "dial" in str(results[0])
    assert elapsed < 30  # each fails in ~5 ms; the resolver here now and then takes 5 s
    assert max(lags) < 0.2, f"loop lag up to {max(lags) * 1000:.0f} ms"
    assert transport.metrics.connect_cycles == 50
    assert not any(c.is_connected for c in clients)
    await asyncio.gather(*(c.disconnect() for c in clients))


async def test_the_executor_is_ours_and_go_calls_run_off_the_loop(
    transport: NeonizeTransport, go: GoRecorder
) -> None:
    name = await asyncio.to_thread(lambda: threading.current_thread().name)
    assert name.startswith("neonize-")
    client = Session(transport).client
    with pytest.raises(ConnectFailed):
        await client.connect()
    await client.disconnect()
    calls = go.named("Neonize", "Stop")
    assert [c.name for c in calls] == ["Neonize", "Stop"]
    assert all(c.thread is not threading.main_thread() for c in calls)
    assert all(c.thread.name.startswith("neonize-") for c in calls)


async def test_store_directories_are_private(transport: NeonizeTransport) -> None:
    client = Session(transport).client
    with pytest.raises(ConnectFailed):
        await client.connect()
    store = transport.store_path(client.session_id)
    assert store.is_file()  # whatsmeow created its sqlite store there
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(transport.auth_dir.stat().st_mode) == 0o700
    assert not await transport.has_credentials(client.session_id)  # nothing paired


# -- the gate ----------------------------------------------------------------------------


async def test_connect_and_stop_are_exclusive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proven from the sequence of grants and Go calls, not from timing."""
    trace: list[tuple[int, GateEvent]] = []
    transport = NeonizeTransport(
        tmp_path / "auth", 60, gate_observer=lambda ev: trace.append((next_seq(), ev))
    )
    await transport.start()
    import neonize.aioze.client as aioze_client

    go = GoRecorder(aioze_client.gocode, transport)
    go.fakes["SendPresence"] = lambda *args: b""
    go.fakes["SubscribePresence"] = lambda *args: b""
    monkeypatch.setattr(aioze_client, "gocode", go)

    online = [Session(transport) for _ in range(5)]
    for session in online:
        await session.connected()

    async def chatter(session: Session) -> None:
        for _ in range(20):
            await session.client.send_presence("available")
            await session.client.subscribe_presence(ANA)

    async def cycle(session: Session) -> None:
        for _ in range(2):
            with pytest.raises(ConnectFailed):
                await session.client.connect()
            await session.client.disconnect()

    offline = [Session(transport) for _ in range(10)]
    await asyncio.gather(*(chatter(s) for s in online), *(cycle(s) for s in offline))
    await transport.close()

    # Replay the grants: an exclusive holder is always alone.
    holders: Counter[str] = Counter()
    exclusive_spans: list[tuple[int, int]] = []
    opened = 0
    for seq, event in trace:
        if event.action == "grant":
            if event.mode == "exclusive":
                assert holders.total() == 0, f"{event.what} granted beside {dict(holders)}"
                opened = seq
            else:
                assert holders["exclusive"] == 0, f"{event.what} granted inside an exclusive hold"
            holders[event.mode] += 1
        else:
            holders[event.mode] -= 1
            if event.mode == "exclusive":
                exclusive_spans.append((opened, seq))
    assert holders.total() == 0

    # Every connect and stop ran, start to end, inside one exclusive hold...
    lifecycle = go.named("Neonize", "Stop")
    assert len(lifecycle) == 10 * 2 * 2
    for call in lifecycle:
        assert call.exclusive and call.readers == 0
        assert any(a < call.start and call.end < b for a, b in exclusive_spans), call.name
    # ...so none of them overlapped another, and every shared call saw no exclusive holder.
    ordered = sorted(lifecycle, key=lambda c: c.start)
    assert all(a.end < b.start for a, b in itertools.pairwise(ordered))
    shared = go.named("SendPresence", "SubscribePresence")
    assert len(shared) == 5 * 20 * 2
    assert all(c.readers >= 1 and not c.exclusive for c in shared)


# -- the lifecycle check -----------------------------------------------------------------


@pytest.mark.parametrize("call", NOT_CONNECTED_CALLS.values(), ids=NOT_CONNECTED_CALLS.keys())
async def test_calls_on_a_client_never_connected_never_reach_neonize(
    session: Session, go: GoRecorder, call: Any
) -> None:
    with pytest.raises(NotConnected):
        await call(session.client)
    with pytest.raises(PairingFailed, match="QR"):
        await session.client.pair_phone("5511987654321")
    assert go.calls == []


async def test_calls_after_a_failed_connect_or_a_disconnect_are_refused(
    session: Session, go: GoRecorder
) -> None:
    with pytest.raises(ConnectFailed):
        await session.client.connect()
    for call in NOT_CONNECTED_CALLS.values():
        with pytest.raises(NotConnected):
            await call(session.client)
    attempt = await session.connected()
    await session.feed(attempt, npb.Disconnected(status=True))
    for call in NOT_CONNECTED_CALLS.values():
        with pytest.raises(NotConnected):
            await call(session.client)
    assert [c.name for c in go.calls] == ["Neonize", "Stop"]


# -- sending through the recorder --------------------------------------------------------


def send_response(message_id: str = "3EB0SENT") -> bytes:
    timings = npb.MessageDebugTimings(
        Queue=0, Marshal=0, GetParticipants=0, GetDevices=0, GroupEncrypt=0,
        PeerEncrypt=0, Send=0, Resp=0, Retry=0,
    )  # fmt: skip
    response = npb.SendResponse(
        Timestamp=1_767_225_600, ID=message_id, ServerID=0, DebugTimings=timings
    )
    return bytes(npb.SendMessageReturnFunction(SendResponse=response).SerializeToString())


async def test_send_returns_whatsmeows_id_and_ignores_ours(
    session: Session, go: GoRecorder
) -> None:
    go.fakes["SendMessage"] = lambda *args: send_response("3EB0FROMWHATSMEOW")
    await session.connected()
    result = await session.client.send(OutboundMessage(ANA, Text("hi")), "OUR-ID")
    assert result.message_id == "3EB0FROMWHATSMEOW"
    assert result.timestamp.timestamp() == 1_767_225_600
    (call,) = go.named("SendMessage")
    assert wa.Message.FromString(call.args[3]).conversation == "hi"
    assert npb.JID.FromString(call.args[1]).User == "5511987654321"
    assert not session.transport.accepts_message_id


async def test_media_is_uploaded_then_sent(session: Session, go: GoRecorder) -> None:
    upload = npb.UploadResponse(
        url="https://mmg/x", DirectPath="/x", Handle="", MediaKey=b"k" * 32,
        FileEncSHA256=b"e" * 32, FileSHA256=b"s" * 32, FileLength=3,
    )  # fmt: skip
    go.fakes["Upload"] = lambda *a: npb.UploadReturnFunction(
        UploadResponse=upload
    ).SerializeToString()
    go.fakes["SendMessage"] = lambda *args: send_response()
    await session.connected()
    media = Media("document", b"abc", "text/plain", file_name="a.txt")
    await session.client.send(OutboundMessage(ANA, media), None)
    (up,) = go.named("Upload")
    assert up.args[1] == b"abc"
    sent = wa.Message.FromString(go.named("SendMessage")[0].args[3])
    assert (sent.documentMessage.URL, sent.documentMessage.fileName) == ("https://mmg/x", "a.txt")


@pytest.mark.parametrize(
    ("error", "expected", "permanent"),
    [
        ("can't send message to unknown server", SendFailed, True),
        ("message recipient must be a user JID with no device part", SendFailed, True),
        ("timed out waiting for message send response", SendFailed, False),
        ("websocket not connected", NotConnected, None),
    ],
)
async def test_send_errors_are_classified(
    session: Session, go: GoRecorder, error: str, expected: type[Exception], permanent: bool | None
) -> None:
    failure = npb.SendMessageReturnFunction(Error=error).SerializeToString()
    go.fakes["SendMessage"] = lambda *args: failure
    await session.connected()
    with pytest.raises(expected) as raised:
        await session.client.send(OutboundMessage(ANA, Text("hi")), None)
    if permanent is not None:
        assert isinstance(raised.value, SendFailed) and raised.value.permanent is permanent


async def test_status_with_a_recipient_list_is_refused_for_good(
    session: Session, go: GoRecorder
) -> None:
    await session.connected()
    status = OutboundMessage("status@broadcast", Text("hello"), status_jid_list=(ANA,))
    with pytest.raises(SendFailed, match="statusJidList") as raised:
        await session.client.send(status, None)
    assert raised.value.permanent
    assert go.calls == []


async def test_presence_calls(session: Session, go: GoRecorder) -> None:
    for name in ("SendPresence", "SendChatPresence", "SubscribePresence", "MarkRead", "RejectCall"):
        go.fakes[name] = lambda *args: b""
    await session.connected()
    await session.client.send_presence("unavailable")
    await session.client.send_presence("recording", ANA)
    await session.client.send_presence("paused", ANA)
    await session.client.subscribe_presence(ANA)
    await session.client.mark_read(ANA, ANA, ["3EB0A", "3EB0B"])
    await session.client.reject_call(ANA, "CALL1")
    presence, recording, paused = go.named("SendPresence", "SendChatPresence")
    assert presence.args[1] == b"unavailable"
    assert recording.args[3:] == (0, 1)  # composing, audio
    assert paused.args[3:] == (1, 0)  # paused, text
    (read,) = go.named("MarkRead")
    assert read.args[1] == b"3EB0A 3EB0B"
    assert go.named("RejectCall")[0].args[3].value == b"CALL1"


async def test_download_enforces_the_size_limit(session: Session, go: GoRecorder) -> None:
    go.fakes["DownloadAny"] = lambda *a: npb.DownloadReturnFunction(
        Binary=b"x" * 64
    ).SerializeToString()
    attempt = await session.connected()
    image = wa.ImageMessage(
        URL="https://mmg/x", directPath="/x", mimetype="image/jpeg", mediaKey=b"k" * 32,
        fileSHA256=b"s" * 32, fileEncSHA256=b"e" * 32, fileLength=64,
    )  # fmt: skip
    (message,) = await session.feed(attempt, message_event(wa.Message(imageMessage=image)))
    assert isinstance(message, MessageIn) and message.media is not None
    assert await session.client.download_media(message.media, 100) == b"x" * 64
    with pytest.raises(MediaUnavailable, match="limit"):
        await session.client.download_media(message.media, 10)  # refused before downloading
    assert len(go.named("DownloadAny")) == 1
    lying = MediaRef("image", "image/jpeg", None, message.media.token)
    with pytest.raises(MediaUnavailable, match="limit"):
        await session.client.download_media(lying, 10)  # refused after
    with pytest.raises(MediaUnavailable, match="not a neonize media reference"):
        await session.client.download_media(MediaRef("image", "image/jpeg", 1, {"x": 1}), 10)


# -- QR codes and pairing ----------------------------------------------------------------


async def test_qr_codes_and_pairing_code(session: Session, go: GoRecorder) -> None:
    go.fakes["PairPhone"] = lambda *a: npb.PairPhoneReturnFunction(
        Code="ABCD-EFGH"
    ).SerializeToString()
    attempt = session.attempt()
    deliver_qr(attempt.client, "2@first")
    deliver_qr(attempt.client, "2@second")
    await wait_until(lambda: len(session.events) == 2)
    assert session.events == [Qr("2@first", 60.0), Qr("2@second", 20.0)]
    with pytest.raises(PairingFailed, match="digits"):
        await session.client.pair_phone("12ab")
    assert await session.client.pair_phone("+5511987654321") == "ABCD-EFGH"
    params = npb.PairPhoneParams.FromString(go.named("PairPhone")[0].args[1])
    assert params.phone == "5511987654321"


async def test_unscanned_qr_codes_end_the_attempt(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neonize_dispatch, "FIRST_QR_S", 0.05)
    monkeypatch.setattr(neonize_dispatch, "NEXT_QR_S", 0.05)
    attempt = session.attempt()
    deliver_qr(attempt.client, "2@only")
    await wait_until(lambda: any(isinstance(e, Disconnected) for e in session.events))
    assert session.events[-1] == Disconnected("qr_timeout", "no QR code scanned")
    assert attempt.ended


# -- what ends a connection --------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (npb.Disconnected(status=True), "network"),
        (npb.StreamReplaced(), "replaced"),
        (npb.TemporaryBan(Code=npb.TemporaryBan.BLOCKED_BY_USERS, Expire=3600), "banned"),
        (
            npb.ConnectFailure(Reason=npb.GENERIC, Message="nope", Raw=npb.Node(Tag="failure")),
            "connect_failure",
        ),
        (npb.ClientOutdated(), "connect_failure"),
    ],
)
async def test_connection_ends_are_reported_once_and_the_client_stays_down(
    session: Session, event: Any, reason: str
) -> None:
    attempt = await session.connected()
    (ended,) = await session.feed(attempt, event)
    assert isinstance(ended, Disconnected) and ended.reason == reason
    assert not session.client.is_connected and attempt.ended
    deliver(attempt.client, npb.Disconnected(status=True))  # late events are dropped
    deliver(attempt.client, message_event(wa.Message(conversation="late")))
    await asyncio.sleep(0.05)
    assert session.events[-1] == ended


async def test_remote_logout_deletes_the_store(session: Session) -> None:
    attempt = await session.connected()
    store = session.transport.store_path(session.client.session_id)
    store.write_bytes(b"whatsmeow store")
    logged_out = npb.LoggedOut(OnConnect=False, Reason=npb.LOGGED_OUT)
    (event,) = await session.feed(attempt, logged_out)
    assert event == LoggedOut("logged out from the phone")
    assert not store.parent.exists()
    assert not session.client.is_connected
    with pytest.raises(NotConnected):
        await session.client.send(OutboundMessage(ANA, Text("hi")), None)


async def test_logout_unlinks_then_deletes_the_store(session: Session, go: GoRecorder) -> None:
    go.fakes["Logout"] = lambda *args: b""
    await session.connected()
    store = session.transport.store_path(session.client.session_id)
    store.write_bytes(b"whatsmeow store")
    await session.client.logout()
    assert [c.name for c in go.calls] == ["Logout"]
    assert not store.parent.exists()
    assert not any(isinstance(e, Disconnected | LoggedOut) for e in session.events)


# -- handler failures --------------------------------------------------------------------


async def test_a_failing_callback_is_logged_and_counted(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    attempt = await session.connected()
    session.fail_on = MessageIn
    with caplog.at_level(logging.ERROR, "zaphubd.transport.neonize"):
        await session.feed(attempt, message_event(wa.Message(conversation="boom")))
        await wait_until(lambda: session.transport.metrics.handler_errors == 1)
    assert "handler for callback for MessageIn failed" in caplog.text
    assert "callback failure on purpose" in caplog.text
    session.fail_on = None
    (after,) = await session.feed(attempt, message_event(wa.Message(conversation="fine")))
    assert isinstance(after, MessageIn)


async def test_a_failing_mapper_is_logged_and_counted(
    transport: NeonizeTransport, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(ev: Any) -> list[Any]:
        raise ValueError("cannot map this")

    monkeypatch.setattr(neonize_updates, "map_presence", broken)
    session = Session(transport)  # its handler table picks up the broken mapper
    attempt = await session.connected()
    with caplog.at_level(logging.ERROR, "zaphubd.transport.neonize"):
        deliver(attempt.client, npb.Presence(From=device().JID, Unavailable=False, LastSeen=0))
        await wait_until(lambda: session.transport.metrics.handler_errors == 1)
    assert "handler for Presence failed" in caplog.text
    assert "cannot map this" in caplog.text


# -- credentials -------------------------------------------------------------------------


async def test_has_credentials_reads_the_store(transport: NeonizeTransport) -> None:
    import sqlite3

    session_id = uuid.uuid4()
    assert not await transport.has_credentials(session_id)
    store = transport.prepare_store(session_id)
    with sqlite3.connect(store) as db:
        db.execute("CREATE TABLE whatsmeow_device (jid TEXT PRIMARY KEY)")
    assert not await transport.has_credentials(session_id)
    with sqlite3.connect(store) as db:
        db.execute("INSERT INTO whatsmeow_device VALUES ('5511900000001:7@s.whatsapp.net')")
    assert await transport.has_credentials(session_id)
    await transport.remove_credentials(session_id)
    assert not store.parent.exists()
