"""Processes the benchmarks run: private Postgres and Redis, simnet, and `zaphubd serve`.

Everything runs on loopback in a temporary directory and is stopped at exit. Redis runs with
appendonly on, as in production.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.services import localservices  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class BenchStack:
    """Postgres, Redis and simnet for one benchmark; daemons started on demand."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="zaphubd-bench-"))
        os.chmod(self.workdir, 0o755)
        self.pg = localservices.Postgres(self.workdir / "pg", localservices.free_port())
        self.redis = localservices.Redis(self.workdir / "redis", localservices.free_port())
        self.simnet_port = localservices.free_port()
        self.http_port = localservices.free_port()
        self.api = f"http://127.0.0.1:{self.http_port}/api/v1"
        self.control = f"http://127.0.0.1:{self.simnet_port}/control"
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[Any] = []

    def start(self) -> BenchStack:
        self.pg.ensure(fast=False)
        self.redis.ensure(appendonly=True)
        args = ["simnet", "--port", str(self.simnet_port), "--log-level", "WARNING"]
        self._spawn(args, "simnet.log", os.environ)
        return self

    def daemon_env(self, **overrides: str) -> dict[str, str]:
        env = {
            **os.environ,
            "ZAPHUB_DATABASE_URL": self.pg.url,
            "ZAPHUB_REDIS_URL": self.redis.url,
            "ZAPHUB_HTTP_PORT": str(self.http_port),
            "ZAPHUB_TRANSPORT": "simnet",
            "ZAPHUB_SIMNET_URL": f"ws://127.0.0.1:{self.simnet_port}/ws",
            "ZAPHUB_AUTH_DATA_DIR": str(self.workdir / "auth"),
            "ZAPHUB_LOG_LEVEL": "WARNING",
            "ZAPHUB_LOG_FORMAT": "text",
            "ZAPHUB_NODE_ID": "bench",
        }
        env.update(overrides)
        return env

    def start_daemon(self, **overrides: str) -> subprocess.Popen[bytes]:
        return self._spawn(["serve"], "daemon.log", self.daemon_env(**overrides))

    def _spawn(self, args: list[str], log_name: str, env: Any) -> subprocess.Popen[bytes]:
        log = open(self.workdir / log_name, "ab")  # noqa: SIM115 - closed by stop()
        self._logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "zaphubd", *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        self._procs.append(proc)
        return proc

    async def wait_healthy(self, http: aiohttp.ClientSession) -> None:
        while True:
            try:
                async with http.get(f"{self.api}/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)

    async def connected_devices(self, http: aiohttp.ClientSession) -> int:
        """Devices with an open, logged-in socket, as simnet sees them."""
        async with http.get(f"{self.control}/devices") as resp:
            devices = (await resp.json())["devices"]
        return sum(1 for d in devices if d["state"] == "connected")

    async def pair_sessions(
        self, http: aiohttp.ClientSession, count: int, phone_prefix: str = "5599"
    ) -> list[str]:
        """Create `count` sessions through the API and scan each through simnet."""
        limit = asyncio.Semaphore(50)

        async def one(n: int) -> str:
            async with limit:
                async with http.post(f"{self.api}/sessions", json={"label": f"bench-{n}"}) as resp:
                    sid: str = (await resp.json())["data"]["id"]
                body = {"device_id": sid, "phone": f"{phone_prefix}{n:08d}"}
                while True:
                    async with http.post(f"{self.control}/scan", json=body) as resp:
                        if resp.status == 200:
                            return sid
                    await asyncio.sleep(0.05)

        ids = await asyncio.gather(*(one(n) for n in range(count)))
        while await self.connected_devices(http) < count:
            await asyncio.sleep(0.1)
        return list(ids)

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)
        for log in self._logs:
            log.close()
        self.pg.stop()
        self.redis.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
