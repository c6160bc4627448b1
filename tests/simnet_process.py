"""simnet as a real subprocess, and a small synchronous HTTP/JSON client for process tests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.services import localservices


def http_json(method: str, url: str, body: Any = None, timeout_s: float = 10) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def wait_until(probe: Any, timeout_s: float = 20, interval_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last: {last!r})")


@dataclass
class SimnetProcess:
    log_path: Path
    state: Path | None = None
    port: int = field(default_factory=localservices.free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> SimnetProcess:
        args = [sys.executable, "-m", "zaphubd", "simnet", "--port", str(self.port), *extra]
        if self.state:
            args += ["--state", str(self.state)]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        wait_until(self._listening, 15, 0.05)
        return self

    def _listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
        if self.proc:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL: the network vanishes without a word (no state saved on the way out)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(15)
        self._log.close()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        status, data = http_json(method, self.base + path, body)
        assert status == 200, (path, status, data)
        return data

    def devices(self) -> dict[str, dict[str, Any]]:
        return {d["device_id"]: d for d in self.control("GET", "/control/devices")["devices"]}
