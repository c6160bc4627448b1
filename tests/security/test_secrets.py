"""Secrets and message bodies never reach the logs or the responses.

A daemon (subprocess, against simnet) runs with an API key and a global webhook secret; a
session gets its own webhook secret; messages carry a recognisable body. Every response is
collected, and the captured logs are searched afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.daemon_process import DaemonProcess, simnet_env
from tests.simnet_process import SimnetProcess, http_json, wait_until

API_KEY = "secret-api-key-SHOULD-NOT-LEAK-0001"
GLOBAL_SECRET = "global-webhook-secret-NOT-LEAK-0002"
SESSION_SECRET = "session-webhook-secret-NOT-LEAK-0003"
BODY = "private message body NOT-TO-BE-LOGGED-0004"


@pytest.fixture
def simnet(tmp_path: Path):  # type: ignore[no-untyped-def]
    proc = SimnetProcess(tmp_path / "simnet.log").start()
    yield proc
    proc.stop()


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_no_secret_and_no_body_in_logs_or_responses(
    pg_url: str, redis_url: str, simnet: SimnetProcess, tmp_path: Path, level: str
) -> None:
    env = simnet_env(
        pg_url,
        redis_url,
        simnet.ws_url,
        tmp_path / "auth",
        API_KEY=API_KEY,
        WEBHOOK_SECRET=GLOBAL_SECRET,
        WEBHOOK_ALLOW_PRIVATE="true",
        LOG_LEVEL=level,
    )
    daemon = DaemonProcess(env, tmp_path / "daemon.log").start()
    responses: list[Any] = []

    def call(method: str, path: str, body: Any = None, *, key: str = API_KEY) -> Any:
        joiner = "&" if "?" in path else "?"
        status, data = http_json(method, f"{daemon.url}{path}{joiner}api_key={key}", body)
        responses.append(data)
        return status, data

    try:
        daemon.wait_healthy()
        _, created = call(
            "POST",
            "/api/v1/sessions",
            {
                "label": "s",
                "webhook_url": "http://127.0.0.1:9/hook",
                "webhook_secret": SESSION_SECRET,
            },
        )
        sid = created["data"]["id"]
        wait_until(
            lambda: call("GET", f"/api/v1/sessions/{sid}")[1]["data"]["status"] == "qr_pending"
        )
        simnet.control("POST", "/control/scan", {"device_id": sid, "phone": "5511940000000"})
        wait_until(
            lambda: call("GET", f"/api/v1/sessions/{sid}")[1]["data"]["status"] == "connected"
        )
        call(
            "POST",
            f"/api/v1/sessions/{sid}/messages",
            {"messageId": "m1", "to": "5511940000001", "text": BODY},
        )
        wait_until(
            lambda: (
                call("GET", f"/api/v1/sessions/{sid}/messages/m1")[1]["data"]["status"] != "queued"
            )
        )
        simnet.control(
            "POST",
            "/control/inbound",
            {
                "from": "5511940000001",
                "to": "5511940000000",
                "message": {"type": "text", "text": BODY},
            },
        )
        wait_until(
            lambda: (
                call("GET", f"/api/v1/sessions/{sid}/messages?direction=inbound")[1]["pagination"][
                    "total"
                ]
                == 1
            )
        )
        call("PATCH", f"/api/v1/sessions/{sid}", {"webhook_secret": SESSION_SECRET + "-new"})
        call("GET", "/api/v1/sessions")
        call("GET", "/api/v1/sessions/stats", key="a-wrong-key-but-long-enough")
    finally:
        daemon.stop()
    logs = daemon.logs()
    texts = str(responses)
    for secret in (API_KEY, GLOBAL_SECRET, SESSION_SECRET):
        assert secret not in logs, f"{secret} in the logs"
        assert secret not in texts, f"{secret} in a response"
    if level == "INFO":
        assert BODY not in logs  # message bodies stay out of INFO logs
    assert "POST /api/v1/sessions/" in logs  # the logs were captured at all
