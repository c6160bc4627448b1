"""Session engine benchmark: memory per idle session, and reconnect time after a restart.

    .venv/bin/python tests/bench/sessions_bench.py [--sessions 1000] [--restarts 3]

Starts a private Postgres and Redis, simnet and `zaphubd serve` (simnet transport) as
subprocesses; creates N sessions through the API and pairs them through simnet's control API.
Then it measures:
- RSS of the daemon with no session (baseline, same run) and with N idle connected sessions;
  the difference per session is the figure (the simnet transport is pure Python, so this is
  all Python-side memory);
- for each restart (SIGTERM, start again): seconds from the new process's start until all N
  sessions are connected again, and from "healthy" until then. Medians are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.services import localservices  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Bench:
    def __init__(self, workdir: Path, sessions: int) -> None:
        self.workdir = workdir
        self.count = sessions
        self.pg = localservices.Postgres(workdir / "pg", localservices.free_port())
        self.redis = localservices.Redis(workdir / "redis", localservices.free_port())
        self.simnet_port = localservices.free_port()
        self.http_port = localservices.free_port()
        self.api = f"http://127.0.0.1:{self.http_port}/api/v1"
        self.control = f"http://127.0.0.1:{self.simnet_port}/control"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start_services(self) -> None:
        os.chmod(self.workdir, 0o755)
        self.pg.ensure(fast=True)
        self.redis.ensure(appendonly=True)
        log = open(self.workdir / "simnet.log", "ab")  # noqa: SIM115 - lives with the process
        simnet = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zaphubd",
                "simnet",
                "--port",
                str(self.simnet_port),
                "--log-level",
                "WARNING",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(simnet)

    def start_daemon(self) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "ZAPHUB_DATABASE_URL": self.pg.url,
            "ZAPHUB_REDIS_URL": self.redis.url,
            "ZAPHUB_HTTP_PORT": str(self.http_port),
            "ZAPHUB_TRANSPORT": "simnet",
            "ZAPHUB_SIMNET_URL": f"ws://127.0.0.1:{self.simnet_port}/ws",
            "ZAPHUB_AUTH_DATA_DIR": str(self.workdir / "auth"),
            "ZAPHUB_MAX_CONCURRENT_SESSIONS": str(self.count + 100),
            "ZAPHUB_LOG_LEVEL": "WARNING",
            "ZAPHUB_LOG_FORMAT": "text",
            "ZAPHUB_NODE_ID": "bench",
            "ZAPHUB_DB_POOL_MAX": "20",
        }
        log = open(self.workdir / "daemon.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "zaphubd", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
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

    async def connected(self, http: aiohttp.ClientSession) -> int:
        """Devices with an open, logged-in socket, as simnet sees them (not the stored status,
        which still says `connected` right after a restart)."""
        async with http.get(f"{self.control}/devices") as resp:
            devices = (await resp.json())["devices"]
        return sum(1 for d in devices if d["state"] == "connected")

    async def wait_connected(
        self, http: aiohttp.ClientSession, n: int, timeout_s: float = 300
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while await self.connected(http) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {await self.connected(http)}/{n} connected")
            await asyncio.sleep(0.1)

    async def create_and_pair(self, http: aiohttp.ClientSession) -> None:
        limit = asyncio.Semaphore(50)

        async def one(n: int) -> None:
            async with limit:
                async with http.post(f"{self.api}/sessions", json={"label": f"bench-{n}"}) as resp:
                    sid = (await resp.json())["data"]["id"]
                while True:
                    async with http.post(
                        f"{self.control}/scan", json={"device_id": sid, "phone": f"5599{n:08d}"}
                    ) as resp:
                        if resp.status == 200:
                            return
                    await asyncio.sleep(0.05)

        await asyncio.gather(*(one(n) for n in range(self.count)))
        await self.wait_connected(http, self.count)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
        self.pg.stop()
        self.redis.stop()


async def measure(bench: Bench, restarts: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        daemon = bench.start_daemon()
        await bench.wait_healthy(http)
        await asyncio.sleep(2)
        baseline = rss_mib(daemon.pid)
        started = time.monotonic()
        await bench.create_and_pair(http)
        create_s = time.monotonic() - started
        await asyncio.sleep(5)  # idle
        loaded = rss_mib(daemon.pid)
        results: dict[str, Any] = {
            "sessions": bench.count,
            "baseline_rss_mib": round(baseline, 1),
            "loaded_rss_mib": round(loaded, 1),
            "kib_per_session": round((loaded - baseline) * 1024 / bench.count, 1),
            "create_and_pair_s": round(create_s, 1),
            "restart_to_all_connected_s": [],
            "healthy_to_all_connected_s": [],
            "rss_after_restart_mib": [],
        }
        for _ in range(restarts):
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
            assert await bench.connected(http) == 0
            t0 = time.monotonic()
            daemon = bench.start_daemon()
            await bench.wait_healthy(http)
            t_healthy = time.monotonic()
            await bench.wait_connected(http, bench.count)
            t_done = time.monotonic()
            results["restart_to_all_connected_s"].append(round(t_done - t0, 2))
            results["healthy_to_all_connected_s"].append(round(t_done - t_healthy, 2))
            await asyncio.sleep(5)
            results["rss_after_restart_mib"].append(round(rss_mib(daemon.pid), 1))
        for key in ("restart_to_all_connected_s", "healthy_to_all_connected_s"):
            results[key + "_median"] = statistics.median(results[key])
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="zaphubd-bench-"))
    bench = Bench(workdir, args.sessions)
    try:
        bench.start_services()
        results = asyncio.run(measure(bench, args.restarts))
    finally:
        bench.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
