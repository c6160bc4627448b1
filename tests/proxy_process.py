"""A real proxy server for the tests: pproxy (a PyPI package), SOCKS5 and HTTP on loopback.

Its verbose log names every connection it carries (`socks5 <client> -> <host>:<port>`), so
a test can tell that traffic really went through it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.services import localservices

PPROXY = [sys.executable, "-m", "pproxy"]


@dataclass
class ProxyProcess:
    log_path: Path
    socks_port: int = field(default_factory=localservices.free_port)
    http_port: int = field(default_factory=localservices.free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socks_url(self) -> str:
        return f"socks5://127.0.0.1:{self.socks_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> ProxyProcess:
        listen = [f"socks5://127.0.0.1:{self.socks_port}", f"http://127.0.0.1:{self.http_port}"]
        args = [arg for url in listen for arg in ("-l", url)]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen([*PPROXY, *args, "-v"], stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 15
        while not all(map(_open, (self.socks_port, self.http_port))):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pproxy did not start:\n{self.log()}")
            time.sleep(0.05)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self._log.close()


def _open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
