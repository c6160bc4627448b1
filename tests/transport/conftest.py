"""neonize fixtures: a started transport, protobuf event builders, and event injection.

neonize is imported here once, with its import-time ResourceWarnings silenced: its platform
probe leaves an `os.popen` pipe and an unwaited `uname` child behind. `filterwarnings = error`
would turn them into a failure of whichever test happens to import neonize first, or (for the
child, reaped by `subprocess` at the next process start) of any later test that starts a
process; so the child is reaped here too, inside the silenced block.

neonize delivers events to one event loop per process (the first that connects), so every
in-process neonize test runs on pytest-asyncio's session-scoped loop: the fixtures here say
`loop_scope="session"`, and each test module sets the same `pytestmark`.
"""

from __future__ import annotations

import asyncio
import ctypes
import subprocess
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ResourceWarning)
    import neonize.aioze.client  # noqa: F401  (loads the Go library once, quietly)
    from neonize.events import EVENT_TO_INT
    from neonize.proto import Neonize_pb2 as npb
    from neonize.utils.jid import build_jid

    subprocess.run(["true"], check=False)  # reaps neonize's probe while warnings are off

from zaphubd.transport.events import TransportEvent
from zaphubd.transport.neonize import NeonizeTransport
from zaphubd.transport.neonize_attempt import Attempt
from zaphubd.transport.neonize_client import NeonizeClient


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> Any:
    """A neonize JID with every required field, as Go encodes it."""
    value = build_jid(user, server)
    value.Device = device
    return value


def empty_jid() -> Any:
    return npb.JID(User="", RawAgent=0, Device=0, Integrator=0, Server="", IsEmpty=True)


def source(
    chat: Any,
    sender: Any,
    *,
    from_me: bool = False,
    group: bool = False,
    sender_alt: Any = None,
) -> Any:
    return npb.MessageSource(
        Chat=chat,
        Sender=sender,
        IsFromMe=from_me,
        IsGroup=group,
        SenderAlt=sender_alt if sender_alt is not None else empty_jid(),
        RecipientAlt=empty_jid(),
        BroadcastListOwner=empty_jid(),
    )


def message_event(
    content: Any,
    *,
    msg_id: str = "3EB0ABCDEF",
    src: Any = None,
    push_name: str = "Ana",
    timestamp_ms: int = 1_767_225_600_000,
) -> Any:
    """A `MessageEv` carrying the waE2E `content`, every required field set."""
    info = npb.MessageInfo(
        MessageSource=src or source(jid("5511987654321"), jid("5511987654321", device=3)),
        ID=msg_id,
        ServerID=0,
        Type="text",
        Pushname=push_name,
        Timestamp=timestamp_ms,
        Category="",
        Multicast=False,
        MediaType="",
        Edit="",
    )
    return npb.Message(
        Info=info,
        Message=content,
        IsEphemeral=False,
        IsViewOnce=False,
        IsViewOnceV2=False,
        IsViewOnceV2Extension=False,
        IsDocumentWithCaption=False,
        IsLottieSticker=False,
        IsEdit=False,
        UnavailableRequestID="",
        RetryCount=0,
    )


def device(user: str = "5511900000001", push_name: str = "Zap Hub") -> Any:
    """The `Device` neonize delivers (event 0) before any other event of a connection."""
    return npb.Device(
        JID=jid(user, device=7),
        Platform="android",
        BussinessName="",
        PushName=push_name,
        Initialized=True,
    )


def deliver(neonize_client: Any, event: Any) -> None:
    """Feed `event` to neonize's dispatcher on a foreign thread, exactly as Go does."""
    data = event.SerializeToString()
    buffer = ctypes.create_string_buffer(data, len(data))
    code = EVENT_TO_INT[type(event)]
    args = (0, ctypes.addressof(buffer), len(data), code)
    thread = threading.Thread(target=neonize_client.event.execute, args=args)
    thread.start()
    thread.join()


def deliver_qr(neonize_client: Any, code: str) -> None:
    """Call neonize's QR callback from a foreign thread, as Go's QR loop does."""
    buffer = ctypes.create_string_buffer(code.encode())
    on_qr = neonize_client._NewAClient__onQr  # the function Go receives as its QR callback
    thread = threading.Thread(target=on_qr, args=(0, ctypes.addressof(buffer)))
    thread.start()
    thread.join()


async def wait_until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


class Session:
    """A client of a started transport, with the events it reported."""

    def __init__(self, transport: NeonizeTransport) -> None:
        self.transport = transport
        self.events: list[TransportEvent] = []
        self.client: NeonizeClient = transport.client(uuid.uuid4(), self._record)
        self.fail_on: type[Any] | None = None

    async def _record(self, event: TransportEvent) -> None:
        self.events.append(event)
        if self.fail_on is not None and isinstance(event, self.fail_on):
            raise RuntimeError("callback failure on purpose")

    def attempt(self) -> Attempt:
        """A neonize client wired like a connect would, without a network."""
        return self.client.begin_attempt()

    async def connected(self) -> Attempt:
        attempt = self.attempt()
        deliver(attempt.client, device())
        deliver(attempt.client, npb.Connected(status=True))
        await wait_until(lambda: self.client.is_connected)
        return attempt

    async def feed(self, attempt: Attempt, event: Any, count: int = 1) -> list[TransportEvent]:
        """Deliver one event and return the `count` normalised events it produced."""
        before = len(self.events)
        deliver(attempt.client, event)
        await wait_until(lambda: len(self.events) >= before + count)
        await asyncio.sleep(0.01)  # anything extra would have arrived by now
        return self.events[before:]


@pytest_asyncio.fixture(loop_scope="session")
async def transport(tmp_path: Path) -> AsyncIterator[NeonizeTransport]:
    started = NeonizeTransport(tmp_path / "auth", 60, qr_grace_s=0.2, stop_settle_s=2.0)
    await started.start()
    yield started
    await started.close()


@pytest_asyncio.fixture(loop_scope="session")
async def session(transport: NeonizeTransport) -> Session:
    return Session(transport)


class GoCall:
    """One call into neonize's Go library, with the gate's state when it started."""

    def __init__(self, name: str, args: tuple[Any, ...], exclusive: bool, readers: int) -> None:
        self.name = name
        self.args = args
        self.thread = threading.current_thread()
        self.exclusive = exclusive
        self.readers = readers
        self.start = next_seq()
        self.end = -1


_seq = iter(range(1, 1 << 62))
_seq_lock = threading.Lock()


def next_seq() -> int:
    """One ordering for gate grants/releases (loop thread) and Go calls (worker threads)."""
    with _seq_lock:
        return next(_seq)


class GoRecorder:
    """Stands in for neonize's handle on the Go library: records every call, and answers
    the ones named in `fakes` itself (those would need a live WhatsApp connection)."""

    def __init__(self, real: Any, transport: NeonizeTransport) -> None:
        self._real = real
        self._transport = transport
        self.calls: list[GoCall] = []
        self.fakes: dict[str, Callable[..., Any]] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        target = self.fakes.get(name) or getattr(self._real, name)
        gate = self._transport.gate

        def call(*args: Any) -> Any:
            record = GoCall(name, args, gate.exclusive_held, gate.readers)
            self.calls.append(record)
            try:
                return target(*args)
            finally:
                record.end = next_seq()

        return call

    def named(self, *names: str) -> list[GoCall]:
        return [call for call in self.calls if call.name in names]


@pytest.fixture
def go(monkeypatch: pytest.MonkeyPatch, transport: NeonizeTransport) -> GoRecorder:
    """Every Go call neonize makes goes through this recorder for the test."""
    import neonize.aioze.client as aioze_client

    recorder = GoRecorder(aioze_client.gocode, transport)
    monkeypatch.setattr(aioze_client, "gocode", recorder)
    return recorder
