"""The daemon on the neonize transport, offline: a session's connects reach whatsmeow's
store in the shared Postgres schema (the DSN zaphubd builds for lib/pq works), and deleting
the session leaves nothing of it there."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg

from tests.daemon_process import DaemonProcess


def _call(url: str, method: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as resp:
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None


async def _eventually(conn: asyncpg.Connection, query: str, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await conn.fetchval(query)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"never true: {query}")


async def test_a_neonize_session_uses_the_shared_store(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = {
        "ZAPHUB_DATABASE_URL": pg_url,
        "ZAPHUB_REDIS_URL": redis_url,
        "ZAPHUB_AUTH_DATA_DIR": str(tmp_path / "auth"),
        "ZAPHUB_TRANSPORT": "neonize",
        "ZAPHUB_RECONNECT_BASE_S": "0.5",
    }
    daemon = DaemonProcess(env, tmp_path / "daemon.log").start()
    conn = await asyncpg.connect(pg_url)
    try:
        daemon.wait_healthy(60)
        status, body = _call(daemon.url + "/api/v1/sessions", "POST", {"label": "real"})
        assert status == 201, body
        sid = body["data"]["id"]
        assert await _eventually(  # whatsmeow migrated, through the DSN the daemon built
            conn,
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'whatsmeow' AND table_name = 'whatsmeow_device'",
        )
        assert await _eventually(  # its connects ran (and failed: WhatsApp is unreachable)
            conn,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE "
            f"'zwm:%:{sid.replace('-', '')}:%'",
        )
        assert not (tmp_path / "auth" / sid.replace("-", "")).exists()  # nothing local
        status, _ = _call(daemon.url + f"/api/v1/sessions/{sid}", "DELETE")
        assert status in (200, 202, 204)
        assert await _eventually(conn, f"SELECT count(*) = 0 FROM sessions WHERE id = '{sid}'")
        assert await conn.fetchval("SELECT count(*) FROM session_credentials") == 0
    except BaseException:
        print(daemon.logs()[-4000:])
        raise
    finally:
        await conn.close()
        daemon.stop()
