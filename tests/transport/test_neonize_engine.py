"""The session engine on the real neonize transport, with no network: WhatsApp is unreachable
here, so a session must go reconnecting with growing delays, then failed, and the daemon must
stay responsive throughout. Runs the daemon as a subprocess (neonize binds one event loop per
process; see conftest)."""

from __future__ import annotations

import statistics
import time
import urllib.request
from datetime import datetime
from pathlib import Path

from tests.daemon_process import DaemonProcess
from tests.simnet_process import http_json, wait_until


def go_library_mapped(daemon: DaemonProcess) -> bool:
    """Whether neonize's Go library is loaded in the daemon (as its memory map shows)."""
    assert daemon.proc is not None
    maps = Path(f"/proc/{daemon.proc.pid}/maps").read_text()
    return any("neonize-" in line and line.rstrip().endswith(".so") for line in maps.splitlines())


def test_unreachable_whatsapp_backs_off_then_fails_while_the_loop_stays_responsive(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = {
        "ZAPHUB_DATABASE_URL": pg_url,
        "ZAPHUB_REDIS_URL": redis_url,
        "ZAPHUB_TRANSPORT": "neonize",
        "ZAPHUB_AUTH_DATA_DIR": str(tmp_path / "auth"),
        "ZAPHUB_RECONNECT_BASE_S": "0.3",
        "RES_OPTIONS": "timeout:1 attempts:1",  # this machine's DNS drops queries now and then
    }
    daemon = DaemonProcess(env, tmp_path / "daemon.log").start()
    try:
        daemon.wait_healthy(60)
        assert not go_library_mapped(daemon)  # no neonize session yet: no Go runtime
        status, body = http_json(
            "POST",
            f"{daemon.url}/api/v1/sessions",
            {"label": "offline", "config": {"retryLimit": 3}},
        )
        assert status == 201, body
        sid = body["data"]["id"]
        latencies: list[float] = []

        def failed() -> bool:
            started = time.perf_counter()
            with urllib.request.urlopen(f"{daemon.url}/api/v1/health", timeout=10) as resp:
                resp.read()
            latencies.append(time.perf_counter() - started)
            return (
                http_json("GET", f"{daemon.url}/api/v1/sessions/{sid}")[1]["data"]["status"]
                == "failed"
            )

        wait_until(failed, timeout_s=90, interval_s=0.05)
        assert go_library_mapped(daemon)
        _, events = http_json("GET", f"{daemon.url}/api/v1/sessions/{sid}/events?limit=200")
        reconnects = [
            e for e in reversed(events["data"]) if e["event_type"] == "session.reconnecting"
        ]
        assert [e["payload"]["attempt"] for e in reconnects] == [1, 2, 3]
        delays = [e["payload"]["delay_s"] for e in reconnects]
        assert delays == sorted(delays) and delays[-1] > 2 * delays[0]
        stamps = [datetime.fromisoformat(e["created_at"]) for e in reconnects]
        assert (stamps[2] - stamps[1]) > (stamps[1] - stamps[0])
        failed_event = next(e for e in events["data"] if e["event_type"] == "session.failed")
        assert "could not reach" in failed_event["payload"]["reason"]
        # The loop kept answering while neonize failed its connects.
        assert statistics.median(latencies) < 0.1 and max(latencies) < 1.0, latencies
        metrics = urllib.request.urlopen(f"{daemon.url}/metrics", timeout=10).read().decode()
        assert "zaphubd_neonize_connect_cycles_total 4.0" in metrics
    finally:
        daemon.stop()
