"""schemathesis against /api/docs/openapi.json on a live daemon: no 5xx, and every response
matches the documented schema (status codes, content types, bodies, headers); data the schema
forbids is never accepted. `make test` runs it with few examples per operation; set
ZAPHUB_FUZZ_EXAMPLES for a longer run, ZAPHUB_FUZZ_SEED for other cases."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess

KEY = "fuzz-api-key-0123456789abcdef"
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "negative_data_rejection",
    )
)


@pytest.mark.timeout(600)
def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli, "schemathesis is a dev dependency (make install)"
    env = {
        "ZAPHUB_DATABASE_URL": pg_url,
        "ZAPHUB_REDIS_URL": redis_url,
        "ZAPHUB_TRANSPORT": "simnet",  # nothing to connect to: sessions just retry and fail
        "ZAPHUB_AUTH_DATA_DIR": str(tmp_path / "auth"),
        "ZAPHUB_API_KEY": KEY,
        "ZAPHUB_LOG_LEVEL": "WARNING",
    }
    daemon = DaemonProcess(env, tmp_path / "daemon.log").start()
    try:
        daemon.wait_healthy()
        examples = os.environ.get("ZAPHUB_FUZZ_EXAMPLES", "8")
        result = subprocess.run(
            [
                cli,
                "run",
                f"{daemon.url}/api/docs/openapi.json",
                "-H",
                f"Authorization: Bearer {KEY}",
                "--checks",
                CHECKS,
                "--max-examples",
                examples,
                "--seed",
                os.environ.get("ZAPHUB_FUZZ_SEED", "20261129"),
                "--workers",
                "2",
                # An accepted event stream stays open for as long as the client wants: the
                # stream routes' own tests (tests/streams) check what they refuse.
                "--exclude-path-regex",
                "/events/stream$",
            ],
            capture_output=True,
            text=True,
            timeout=540,
        )
    finally:
        daemon.stop()
    # Long generated values make lines of many kilobytes: clip them for the report.
    report = "\n".join(line[:300] for line in result.stdout.splitlines())
    print(report)
    assert result.returncode == 0, report[-6000:] + "\n" + daemon.logs()[-3000:]
    logs = daemon.logs()
    assert "Traceback" not in logs, logs[logs.index("Traceback") - 300 :][:3000]
