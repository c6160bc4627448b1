"""One connection attempt of one session: a fresh neonize client from connect to stop.

Each `connect()` gets a new `NewAClient`, so nothing of an earlier attempt (its `me`, its
handlers, its task) can leak into the next. The attempt owns the three rules of NEONIZE.md
about the Go side's lifetime:
- the connect holds the gate exclusively until the attempt "settles": the connect task ends,
  the first QR code arrives, the first event arrives, or `client.me` is set (neonize writes
  and reads its Go maps in that window);
- stop runs in the executor, under the exclusive gate, and the connect task is never
  cancelled (cancelling it makes neonize call Go's Stop on the loop thread);
- a connect task that does not end after stop is a Go thread lost for good: the executor
  gets a replacement and the client object is kept alive, since Go may still hold its
  ctypes callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Literal

from zaphubd.transport.neonize_gate import Gate
from zaphubd.transport.neonize_store import StoreChoice

log = logging.getLogger("zaphubd.transport.neonize")

AttemptState = Literal["starting", "qr", "connected", "ended"]
#: How often the settle wait looks at `client.me` (neonize sets it without telling anyone).
ME_POLL_S = 0.05


class ConnectError(Exception):
    """The connect task ended before the attempt settled; the message says why."""


class Attempt:
    """A `NewAClient` and what we know of its connection."""

    def __init__(
        self, number: int, neonize_client: Any, store: StoreChoice, proxy: Any = None
    ) -> None:
        self.number = number
        self.client = neonize_client
        self.store = store
        self.proxy = proxy  # neonize's ProxySettings, or None
        self.state: AttemptState = "starting"
        self.ended = False  # no event of this attempt is reported once set
        self.opened = False  # connect() returned: a task ending now is a disconnect
        self.qr_count = 0
        self.task: asyncio.Task[Any] | None = None
        self._settled = asyncio.Event()
        self._stop_task: asyncio.Task[bool] | None = None
        self._go_stopped = False
        self._watchdog: asyncio.TimerHandle | None = None

    # -- opening ------------------------------------------------------------------------

    async def open(self, gate: Gate, on_task_end: Callable[[Attempt, str], None]) -> None:
        """Start the connection and hold the gate exclusively until it settles.

        Raises ConnectError when the connect task ends first (the network is unreachable);
        the client is then already stopped.
        """
        async with gate.exclusive("connect"):
            if self.ended:  # stopped while waiting for the gate
                raise ConnectError("the connection was closed before it opened")
            try:
                self.task = await self.client.connect(self.proxy)
            except Exception as err:  # neonize failed before it had a task to run
                self.ended = True
                raise ConnectError(str(err) or type(err).__name__) from err
            self.task.add_done_callback(lambda task: on_task_end(self, _outcome(task)))
            await self._wait_settled()
            if self.task.done():
                self.ended = True
                await self._stop_in_executor()  # still exclusive: Go's maps are ours
                raise ConnectError(_outcome(self.task))
        self.opened = True

    def settle(self) -> None:
        """A QR code, an event, or the end of the task: Go is past its map updates."""
        self._settled.set()

    def has_me(self) -> bool:
        me = self.client.me
        return me is not None and bool(me.JID.User)

    async def _wait_settled(self) -> None:
        while not self._settled.is_set() and not self.has_me():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ME_POLL_S):
                    await self._settled.wait()

    # -- QR codes -----------------------------------------------------------------------

    def arm_qr_watchdog(self, delay_s: float, on_expiry: Callable[[Attempt, int], None]) -> None:
        """whatsmeow ends a QR login without any event: notice when no new code follows."""
        self.disarm()
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(delay_s, on_expiry, self, self.qr_count)

    def disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    # -- stopping -----------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop_task is not None

    async def stop(self, gate: Gate, settle_s: float) -> bool:
        """Stop the Go client once (later calls wait for the first); False if its thread
        did not come back within `settle_s`."""
        self.ended = True
        self.disarm()
        if self._stop_task is None:
            self._stop_task = asyncio.create_task(self._stop(gate, settle_s))
        return await asyncio.shield(self._stop_task)

    async def _stop(self, gate: Gate, settle_s: float) -> bool:
        self.state = "ended"
        # Taking the gate first also waits out an open() still in its exclusive section.
        async with gate.exclusive("stop"):
            if self.task is not None and not self._go_stopped:
                await self._stop_in_executor()
        if self.task is None:  # never connected: Go knows nothing of this client
            return True
        done, _ = await asyncio.wait({self.task}, timeout=settle_s)  # never cancels the task
        return bool(done)

    async def _stop_in_executor(self) -> None:
        # Also after the task ended: Go keeps the client in its maps until Stop.
        self._go_stopped = True
        try:
            await self.client.stop()  # neonize runs Go's Stop through asyncio.to_thread
        except Exception:
            log.exception("neonize stop failed")


def _outcome(task: asyncio.Task[Any]) -> str:
    """Why a connect task ended, in words (and its exception retrieved)."""
    if task.cancelled():
        return "the connect task was cancelled"
    err = task.exception()
    if err is None:
        return "neonize ended the connection"
    return str(err) or type(err).__name__
