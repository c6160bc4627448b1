"""sd_notify over a real datagram socket."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from zaphubd.systemd import Notifier


def test_notifications_reach_the_socket(tmp_path: Path) -> None:
    path = tmp_path / "n.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"})
    notifier.ready("up")
    notifier.stopping()
    assert sock.recv(100) == b"READY=1\nSTATUS=up"
    assert sock.recv(100) == b"STOPPING=1\nSTATUS=stopping"
    assert notifier.watchdog_interval_s == 1.0
    sock.close()


def test_without_systemd_everything_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.notify("READY=1") is False
    assert notifier.watchdog_interval_s is None


def test_watchdog_for_another_pid_is_ignored() -> None:
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier(env).watchdog_interval_s is None
