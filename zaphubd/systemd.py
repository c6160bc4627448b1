"""sd_notify over $NOTIFY_SOCKET: READY, STATUS, WATCHDOG and STOPPING (see sd_notify(3)).

Without NOTIFY_SOCKET (not under systemd) every call is a no-op, so the daemon runs the same
on a terminal. The watchdog task pings at half of WATCHDOG_USEC from the event loop itself:
a stalled loop stops the pings and systemd restarts the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

log = logging.getLogger("zaphubd.systemd")


class Notifier:
    """Sends notifications to the service manager; silent when there is none."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self._watchdog_s = _watchdog_interval_s(env)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to ping the watchdog, or None when systemd does not watch us."""
        return self._watchdog_s

    def notify(self, *lines: str) -> bool:
        if self._address is None:
            return False
        payload = "\n".join(lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(payload)
        except OSError as err:
            log.warning("sd_notify failed: %s", err)
            return False
        return True

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.notify(f"STATUS={status}")

    def stopping(self) -> None:
        self.notify("STOPPING=1", "STATUS=stopping")

    async def watchdog(self) -> None:
        """Ping WATCHDOG=1 forever at half the configured interval; run it as a task."""
        interval = self._watchdog_s
        if interval is None:
            return
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(interval)


def _socket_address(value: str) -> str | None:
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]  # abstract namespace
    if value.startswith("/"):
        return value
    return None


def _watchdog_interval_s(env: dict[str, str] | os._Environ[str]) -> float | None:
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    with contextlib.suppress(ValueError):
        value = int(usec)
        if value > 0:
            return value / 2 / 1_000_000
    return None
