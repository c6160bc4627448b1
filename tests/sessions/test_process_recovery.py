"""Daemons as real processes: restart recovery, graceful stop, and two daemons sharing sessions."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_process import DaemonProcess, simnet_env
from tests.simnet_process import SimnetProcess, http_json, wait_until


@pytest.fixture
def simnet(tmp_path: Path):  # type: ignore[no-untyped-def]
    proc = SimnetProcess(tmp_path / "simnet.log", state=tmp_path / "simnet.json").start()
    yield proc
    proc.stop()


def daemon_env(
    pg_url: str, redis_url: str, simnet: SimnetProcess, auth: Path, node: str
) -> dict[str, str]:
    return simnet_env(
        pg_url,
        redis_url,
        simnet.ws_url,
        auth,
        NODE_ID=node,
        SESSION_LEASE_TTL_S="3",
        RECONNECT_BASE_S="0.3",
        SHUTDOWN_TIMEOUT_S="10",
    )


def session(daemon: DaemonProcess, sid: str) -> dict[str, Any]:
    status, body = http_json("GET", f"{daemon.url}/api/v1/sessions/{sid}")
    assert status == 200, body
    return body["data"]  # type: ignore[no-any-return]


def connect_sessions(daemon: DaemonProcess, simnet: SimnetProcess, count: int) -> list[str]:
    ids = []
    for n in range(count):
        status, body = http_json("POST", f"{daemon.url}/api/v1/sessions", {"label": f"s{n}"})
        assert status == 201, body
        ids.append(body["data"]["id"])
    for n, sid in enumerate(ids):
        wait_until(lambda sid=sid: session(daemon, sid)["status"] == "qr_pending")
        simnet.control("POST", "/control/scan", {"device_id": sid, "phone": f"55119100000{n:02d}"})
    wait_until(lambda: all(session(daemon, sid)["status"] == "connected" for sid in ids))
    return ids


def qr_events(daemon: DaemonProcess, sid: str) -> int:
    _, body = http_json(
        "GET", f"{daemon.url}/api/v1/sessions/{sid}/events?event_type=session.qr_generated"
    )
    return int(body["pagination"]["total"])


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_restart_resumes_sessions_without_a_new_qr(
    pg_url, redis_url, simnet, tmp_path, stop_signal
) -> None:  # type: ignore[no-untyped-def]
    env = daemon_env(pg_url, redis_url, simnet, tmp_path / "auth", "node-1")
    first = DaemonProcess(env, tmp_path / "first.log").start()
    first.wait_healthy()
    ids = connect_sessions(first, simnet, 3)
    first.signal(stop_signal)
    code = first.wait(30)
    if stop_signal == signal.SIGTERM:
        assert code == 0
        # Graceful: sockets closed without logging out; the devices are just offline.
        assert {simnet.devices()[sid]["state"] for sid in ids} == {"offline"}

    second = DaemonProcess(env, tmp_path / "second.log", port=first.port).start()
    try:
        second.wait_healthy()
        started = time.monotonic()
        wait_until(lambda: all(session(second, sid)["status"] == "connected" for sid in ids))
        wait_until(lambda: {simnet.devices()[sid]["state"] for sid in ids} == {"connected"})
        assert time.monotonic() - started < 15
        assert [qr_events(second, sid) for sid in ids] == [1, 1, 1]  # no new QR
        assert all(session(second, sid)["runtime_status"] == "connected" for sid in ids)
    finally:
        second.stop()


def _started_here(daemon: DaemonProcess) -> set[str]:
    return set(re.findall(r"session ([0-9a-f-]{36}) started on this node", daemon.logs()))


def test_two_daemons_share_sessions_and_take_over_on_death(
    pg_url, redis_url, simnet, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    auth = tmp_path / "auth"  # shared, as it would be on shared storage
    a = DaemonProcess(
        daemon_env(pg_url, redis_url, simnet, auth, "node-a"), tmp_path / "a.log"
    ).start()
    b = DaemonProcess(
        daemon_env(pg_url, redis_url, simnet, auth, "node-b"), tmp_path / "b.log"
    ).start()
    try:
        a.wait_healthy()
        b.wait_healthy()
        ids = set(connect_sessions(a, simnet, 6))
        on_a, on_b = _started_here(a), _started_here(b)
        assert on_a | on_b == ids
        assert not on_a & on_b, "a session was opened by both daemons"
        assert on_b, "the second daemon took no session (test would prove nothing)"
        a.signal(signal.SIGKILL)
        a.wait(10)
        killed_at = time.monotonic()
        wait_until(lambda: _started_here(b) >= ids, timeout_s=20)
        took_over_s = time.monotonic() - killed_at
        wait_until(lambda: all(session(b, sid)["status"] == "connected" for sid in ids))
        assert took_over_s < 3 + 5  # lease TTL plus one recovery pass and the connects
        assert all(qr_events(b, sid) == 1 for sid in ids)
        replaced = http_json("GET", f"{b.url}/api/v1/sessions?status=disconnected")[1]
        assert replaced["pagination"]["total"] == 0
    finally:
        a.stop()
        b.stop()
