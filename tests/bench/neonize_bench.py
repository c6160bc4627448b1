"""What the neonize transport costs offline: memory and threads per client, and loop lag.

    .venv/bin/python tests/bench/neonize_bench.py [--runs 3] [--json]

Every figure comes from a fresh Python process (neonize keeps process-wide Go state), and is
the median of `--runs` processes:
- baseline: neonize imported and the transport started, no client;
- 1, 50 and 200 clients created and each connect attempted once (WhatsApp is unreachable
  here, so every connect fails, which is also what a reconnect loop costs), then stopped:
  VmRSS and the thread count of the process (Python's and Go's threads) from /proc;
- loop lag while 50 clients connect at once: the delay of a 10 ms ticker (p50, p99, max).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLIENT_COUNTS = (1, 50, 200)


def proc_status() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "Threads"):
            fields[name] = int(value.split()[0])
    return {"rss_kib": fields["VmRSS"], "threads": fields["Threads"]}


async def clients_worker(count: int) -> dict[str, Any]:
    from zaphubd.transport.base import ConnectFailed
    from zaphubd.transport.neonize import NeonizeTransport

    transport = NeonizeTransport(Path(tempfile.mkdtemp()) / "auth", max(count, 1))
    await transport.start()

    async def ignore(event: object) -> None:
        return None

    clients = [transport.client(uuid.uuid4(), ignore) for _ in range(count)]
    started = time.monotonic()
    results = await asyncio.gather(*(c.connect() for c in clients), return_exceptions=True)
    elapsed = time.monotonic() - started
    assert all(isinstance(r, ConnectFailed) for r in results), results[:3]
    await asyncio.gather(*(c.disconnect() for c in clients))
    await asyncio.sleep(0.5)  # let the Go side settle
    stats = transport.executor.stats() if transport.executor else None
    return {
        **proc_status(),
        "connect_s": elapsed,
        "executor_threads": stats.threads if stats else 0,
        "cycles": transport.metrics.connect_cycles,
    }


async def lag_worker(count: int) -> dict[str, Any]:
    from zaphubd.transport.neonize import NeonizeTransport

    transport = NeonizeTransport(Path(tempfile.mkdtemp()) / "auth", count)
    await transport.start()

    async def ignore(event: object) -> None:
        return None

    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append((time.monotonic() - before - 0.01) * 1000)

    ticking = asyncio.create_task(ticker())
    clients = [transport.client(uuid.uuid4(), ignore) for _ in range(count)]
    started = time.monotonic()
    await asyncio.gather(*(c.connect() for c in clients), return_exceptions=True)
    elapsed = time.monotonic() - started
    done.set()
    await ticking
    await transport.close()
    lags.sort()
    return {
        "p50_ms": lags[len(lags) // 2],
        "p99_ms": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
        "max_ms": lags[-1],
        "ticks": len(lags),
        "connect_s": elapsed,
    }


async def baseline_worker() -> dict[str, Any]:
    from zaphubd.transport.neonize import NeonizeTransport

    transport = NeonizeTransport(Path(tempfile.mkdtemp()) / "auth", 1)
    await transport.start()
    await asyncio.sleep(0.5)
    return proc_status()


def worker(kind: str, count: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # neonize's import-time probe
        if kind == "baseline":
            result = asyncio.run(baseline_worker())
        elif kind == "lag":
            result = asyncio.run(lag_worker(count))
        else:
            result = asyncio.run(clients_worker(count))
    print(json.dumps(result))


def spawn(kind: str, count: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore::ResourceWarning"}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(count)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} {count} failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def median_of(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def measure(runs: int) -> dict[str, Any]:
    report: dict[str, Any] = {"runs": runs}
    report["baseline"] = median_of([spawn("baseline", 0) for _ in range(runs)])
    for count in CLIENT_COUNTS:
        report[f"clients_{count}"] = median_of([spawn("clients", count) for _ in range(runs)])
    lag_runs = [spawn("lag", 50) for _ in range(runs)]
    report["lag_50"] = {"median": median_of(lag_runs), "runs": lag_runs}
    return report


def print_table(report: dict[str, Any]) -> None:
    base = report["baseline"]
    print(f"neonize transport, offline; median of {report['runs']} fresh processes each")
    print(f"{'':>14} {'RSS MiB':>8} {'+MiB':>7} {'threads':>8} {'+thr':>6} {'connects s':>11}")
    print(f"{'baseline':>14} {base['rss_kib'] / 1024:8.1f} {'':>7} {base['threads']:8.0f}")
    for count in CLIENT_COUNTS:
        row = report[f"clients_{count}"]
        extra = (row["rss_kib"] - base["rss_kib"]) / 1024
        print(
            f"{f'{count} clients':>14} {row['rss_kib'] / 1024:8.1f} {extra:+7.1f} "
            f"{row['threads']:8.0f} {row['threads'] - base['threads']:+6.0f} "
            f"{row['connect_s']:11.2f}"
        )
    lag = report["lag_50"]["median"]
    print(
        f"loop lag during 50 failing connects: p50 {lag['p50_ms']:.2f} ms, "
        f"p99 {lag['p99_ms']:.2f} ms, max {lag['max_ms']:.2f} ms "
        f"({lag['ticks']:.0f} ticks over {lag['connect_s']:.2f} s)"
    )
    for run in report["lag_50"]["runs"]:
        print(f"  run: max {run['max_ms']:.2f} ms over {run['connect_s']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    report = measure(args.runs)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
