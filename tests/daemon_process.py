"""Run `zaphubd serve` as a real subprocess (crash, restart and systemd tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.services import localservices

ZAPHUBD = [sys.executable, "-m", "zaphubd"]


def simnet_env(
    pg_url: str, redis_url: str, simnet_ws: str, auth: Path, **extra: str
) -> dict[str, str]:
    """The environment of a daemon on simnet; `extra` adds ZAPHUB_* settings by suffix
    (`RECONNECT_BASE_S="0.3"` sets ZAPHUB_RECONNECT_BASE_S)."""
    return {
        "ZAPHUB_DATABASE_URL": pg_url,
        "ZAPHUB_REDIS_URL": redis_url,
        "ZAPHUB_TRANSPORT": "simnet",
        "ZAPHUB_SIMNET_URL": simnet_ws,
        "ZAPHUB_AUTH_DATA_DIR": str(auth),
        **{f"ZAPHUB_{name}": value for name, value in extra.items()},
    }


@dataclass
class DaemonProcess:
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=localservices.free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *args: str) -> DaemonProcess:
        env = {**os.environ, **self.env, "ZAPHUB_HTTP_PORT": str(self.port)}
        env.setdefault("ZAPHUB_LOG_FORMAT", "text")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [*ZAPHUBD, *(args or ("serve",))], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        return self

    def wait_healthy(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.url + "/api/v1/health", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"daemon not healthy after {timeout_s}s:\n{self.logs()}")

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout_s: float = 30) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout_s)
        self._log.close()
        return code

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is not None:
            self._log.close()  # it died (a SIGKILL in the test): its log is still open here
            return self.proc.returncode
        self.signal(signal.SIGTERM)
        try:
            return self.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.wait(5)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
