"""`zaphubd` as a real process: readiness, systemd notifications, logs, exit statuses."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.daemon_process import ZAPHUBD, DaemonProcess
from tests.services import localservices

ROOT = Path(__file__).resolve().parents[2]
KEY = "e2e-api-key-0123456789abcdef"


def base_env(pg_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "ZAPHUB_DATABASE_URL": pg_url,
        "ZAPHUB_REDIS_URL": redis_url,
        "ZAPHUB_AUTH_DATA_DIR": str(tmp_path / "auth"),
        "ZAPHUB_STARTUP_TIMEOUT_S": "2",
        # No session runs here: skip loading neonize's Go runtime (its own tests cover it).
        "ZAPHUB_TRANSPORT": "simnet",
    }


def test_serves_notifies_systemd_and_stops_on_sigterm(pg_url, redis_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sock_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(sock_path))
    notify.settimeout(20)
    env = base_env(pg_url, redis_url, tmp_path)
    env.update({"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"})
    daemon = DaemonProcess(env, tmp_path / "daemon.log").start()
    try:
        messages = [notify.recv(4096).decode()]
        while "READY=1" not in messages[-1]:
            messages.append(notify.recv(4096).decode())
        daemon.wait_healthy()
        watchdog = [notify.recv(4096).decode() for _ in range(3)]
        daemon.signal(signal.SIGTERM)
        tail = notify.recv(4096).decode()
        while "STOPPING=1" not in tail:
            tail = notify.recv(4096).decode()
        code = daemon.wait(30)
    finally:
        daemon.stop()
        notify.close()
    assert any(m.startswith("STATUS=starting") for m in messages)
    assert "STATUS=serving on 127.0.0.1" in messages[-1]
    assert watchdog == ["WATCHDOG=1"] * 3
    assert code == 0
    assert "stopped" in daemon.logs()


def test_journal_format_has_priorities_and_no_timestamps(pg_url, redis_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = base_env(pg_url, redis_url, tmp_path) | {"ZAPHUB_LOG_FORMAT": "journal"}
    daemon = DaemonProcess(env, tmp_path / "daemon.log").start()
    daemon.wait_healthy()
    daemon.stop()
    lines = [line for line in daemon.logs().splitlines() if line]
    assert lines, "no log output"
    assert all(line[:3] in ("<6>", "<4>", "<3>", "<7>", "<2>") for line in lines), lines
    assert "<4>zaphubd: ZAPHUB_API_KEY is not set" in daemon.logs()
    assert "<6>zaphubd.access: GET /api/v1/health 200" in daemon.logs()
    assert not any(line[3:5] == "20" for line in lines)  # no "2026-..." stamp of our own


def test_api_key_never_reaches_the_logs(pg_url, redis_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import urllib.request

    env = base_env(pg_url, redis_url, tmp_path) | {
        "ZAPHUB_API_KEY": KEY,
        "ZAPHUB_LOG_LEVEL": "DEBUG",
    }
    daemon = DaemonProcess(env, tmp_path / "daemon.log").start()
    daemon.wait_healthy()
    for url in (f"{daemon.url}/metrics?api_key={KEY}", f"{daemon.url}/metrics?api_key=wrong{KEY}"):
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=5).read()
    daemon.stop()
    assert "GET /metrics 200" in daemon.logs() and "GET /metrics 401" in daemon.logs()
    assert KEY not in daemon.logs()


def test_unreachable_postgres_exits_69_naming_it(redis_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dead_pg = f"postgresql://postgres@127.0.0.1:{localservices.free_port()}/zaphub"
    env = base_env(dead_pg, redis_url, tmp_path) | {"ZAPHUB_STARTUP_TIMEOUT_S": "1"}
    started = time.monotonic()
    daemon = DaemonProcess(env, tmp_path / "daemon.log").start()
    code = daemon.wait(30)
    assert code == 69
    assert time.monotonic() - started < 20
    assert "postgres is not reachable yet" in daemon.logs()  # retried first
    assert "zaphubd: postgres is unreachable" in daemon.logs()
    assert "Traceback" not in daemon.logs()


def test_invalid_configuration_exits_78_with_one_line_per_problem(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPHUB_")}
    env.update({"ZAPHUB_HTTP_PORT": "99999", "ZAPHUB_TRANSPORT": "carrier-pigeon"})
    result = subprocess.run(
        [*ZAPHUBD, "serve"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 78
    lines = result.stderr.strip().splitlines()
    assert sorted(lines) == [
        "zaphubd: configuration error: ZAPHUB_DATABASE_URL: is required",
        "zaphubd: configuration error: ZAPHUB_HTTP_PORT: "
        "Input should be less than or equal to 65535",
        "zaphubd: configuration error: ZAPHUB_TRANSPORT: Input should be 'neonize' or 'simnet'",
    ]


def test_check_config_masks_secrets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPHUB_")}
    env_file = tmp_path / "zaphubd.env"
    env_file.write_text(
        "ZAPHUB_DATABASE_URL=postgresql://zap:pg-pass-123@db.example/zaphub\n"
        f"ZAPHUB_API_KEY={KEY}\nZAPHUB_WEBHOOK_SECRET=whsec-0123456789abcdef\n"
    )
    env["ZAPHUB_ENV_FILE"] = str(env_file)
    result = subprocess.run(
        [*ZAPHUBD, "check-config"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ZAPHUB_DATABASE_URL" in out and "postgresql://zap:***@db.example/zaphub" in out
    for secret in (KEY, "pg-pass-123", "whsec-0123456789abcdef"):
        assert secret not in out
    assert out.count("********") == 2


def test_migrate_command_applies_then_reports_nothing(services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import asyncpg

    from zaphubd.db.migrations import load_migrations

    name = "mig_" + os.urandom(4).hex()

    async def create() -> None:
        conn = await asyncpg.connect(services.pg_admin_url)
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()

    asyncio.run(create())
    env = {**os.environ, "ZAPHUB_DATABASE_URL": services.pg_url(name)}
    first = subprocess.run(
        [*ZAPHUBD, "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    second = subprocess.run(
        [*ZAPHUBD, "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    known = [m.name for m in load_migrations()]
    assert known[0] == "001_initial.sql"
    assert first.returncode == 0
    assert f"applied {len(known)} migration(s): {', '.join(known)}" in first.stdout
    assert second.returncode == 0 and "applied 0 migration(s)" in second.stdout


@pytest.mark.skipif(not Path("/usr/bin/systemd-analyze").exists(), reason="systemd not installed")
def test_systemd_unit_verifies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    unit = (ROOT / "zaphubd.service").read_text()
    # verify checks that ExecStart exists: point it at this checkout's entry point.
    unit = unit.replace(
        "/opt/zaphubd/.venv/bin/zaphubd", str(Path(sys.executable).parent / "zaphubd")
    )
    path = tmp_path / "zaphubd.service"
    path.write_text(unit)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    for directive in (
        "Type=notify",
        "WatchdogSec=",
        "ProtectSystem=strict",
        "StateDirectory=zaphubd",
    ):
        assert directive in unit
