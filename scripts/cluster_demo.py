#!/usr/bin/env python3
"""`make cluster-demo`: three zaphubd nodes share 30 sessions, one is SIGKILLed, the others
take its sessions over once its leases expire.

Runs under `localservices.py exec` (like `make demo`) for Postgres, in a database of its own
that is created afresh at the start and dropped at the end, so runs never see each other's
sessions. The 3-master Redis Cluster comes from tests/redis_cluster.py, the helper the
cluster tests use (imported rather than copied: it is the fiddly part). simnet and the nodes
run as subprocesses; everything the demo starts is stopped before it exits, and the logs stay
in the temporary directory it prints.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo import call  # noqa: E402 - scripts/ is on sys.path
from localservices import free_port, port_open  # noqa: E402

from tests.redis_cluster import RedisClusterProcesses, start_cluster  # noqa: E402

SESSIONS = 30
NODE_IDS = ("n1", "n2", "n3")
CAPACITY = 20  # per node: two survivors (40) can hold all 30
LEASE_TTL_S = 10.0  # the default is 30 s; short so the demo does not drag
VICTIM = "n2"
DEMO_DB = "zaphub_cluster_demo"


class DemoError(Exception):
    """A step did not happen in time: reported, with the logs' tails, and exit code 1."""


@dataclass
class Node:
    node_id: str
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            result = probe()
        except OSError:  # URLError too: a node still starting, or just killed
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise DemoError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "zaphubd", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def fresh_database(admin_url: str) -> str:
    """An empty database for this run (a crashed earlier run may have left one behind);
    the nodes apply the migrations when they start."""
    drop = f"DROP DATABASE IF EXISTS {DEMO_DB} WITH (FORCE)"
    asyncio.run(_admin(admin_url, drop, f"CREATE DATABASE {DEMO_DB}"))
    return admin_url.rsplit("/", 1)[0] + "/" + DEMO_DB


def start_node(node_id: str, tmp: Path, base_env: dict[str, str]) -> Node:
    port = free_port()
    env = {
        **base_env,
        "ZAPHUB_NODE_ID": node_id,
        "ZAPHUB_HTTP_PORT": str(port),
        "ZAPHUB_AUTH_DATA_DIR": str(tmp / f"auth-{node_id}"),  # per node, as on real hosts
        "ZAPHUB_MAX_CONCURRENT_SESSIONS": str(CAPACITY),
        "ZAPHUB_SESSION_LEASE_TTL_S": str(LEASE_TTL_S),
        "ZAPHUB_RECONNECT_BASE_S": "0.3",
        "ZAPHUB_SHUTDOWN_TIMEOUT_S": "10",
    }
    return Node(node_id, port, spawn(["serve"], env, tmp / f"{node_id}.log"))


def healthy(node: Node) -> bool:
    if node.proc.poll() is not None:
        raise DemoError(f"{node.node_id} exited with code {node.proc.returncode}")
    return bool(call("GET", f"{node.api}/health")["data"]["status"] == "healthy")


def pair_all(nodes: list[Node], control: str) -> dict[str, str]:
    """Create the sessions round-robin over the nodes' APIs (any node answers any request),
    then scan every QR as a phone would. Returns session id -> label (s01, s02...)."""
    labels: dict[str, str] = {}
    for i in range(SESSIONS):
        label = f"s{i + 1:02d}"
        node = nodes[i % len(nodes)]
        labels[call("POST", f"{node.api}/sessions", {"label": label})["data"]["id"]] = label
    api = nodes[0].api
    for sid in labels:
        wait_for(f"the QR of {labels[sid]}", partial(has_status, api, sid, "qr_pending"), 30)
    for i, sid in enumerate(labels):
        call("POST", f"{control}/scan", {"device_id": sid, "phone": f"55119300{i:05d}"})
    wait_for("every session to connect", lambda: connected(control, list(labels)), 60)
    return labels


def has_status(api: str, sid: str, status: str) -> bool:
    return bool(call("GET", f"{api}/sessions/{sid}")["data"]["status"] == status)


def connected(control: str, sids: list[str]) -> bool:
    devices = {d["device_id"]: d for d in call("GET", f"{control}/devices")["devices"]}
    return all(sid in devices and devices[sid]["state"] == "connected" for sid in sids)


def owners(nodes: list[Node]) -> dict[str, str]:
    """session id -> node id, as `GET /nodes` on the first live node reports it."""
    live = next((n for n in nodes if n.proc.poll() is None), None)
    if live is None:
        raise DemoError("every node has exited")
    view = call("GET", f"{live.api}/nodes")["data"]
    return {sid: n["node_id"] for n in view["nodes"] for sid in n["sessions"]}


def show(placement: dict[str, str], labels: dict[str, str], sids: list[str]) -> str:
    """One line per node: its session count and labels."""
    by_node: dict[str, list[str]] = {}
    for sid in sids:
        by_node.setdefault(placement[sid], []).append(labels[sid])
    return "\n".join(
        f"  {node}: {len(names):2d}  {' '.join(sorted(names))}"
        for node, names in sorted(by_node.items())
    )


def demo(nodes: list[Node], control: str) -> None:
    print(f"pairing {SESSIONS} sessions through simnet's control API ...", flush=True)
    labels = pair_all(nodes, control)

    def all_placed() -> dict[str, str] | None:
        placement = owners(nodes)
        return placement if len(placement) == SESSIONS else None

    placement = wait_for("all sessions to be placed", all_placed, 30)
    counts = Counter(placement.values())
    print(f"placement: {', '.join(f'{n} {counts[n]}' for n in NODE_IDS)} sessions")
    print(show(placement, labels, list(labels)))

    victim = next(n for n in nodes if n.node_id == VICTIM)
    moved = [sid for sid, owner in placement.items() if owner == victim.node_id]
    print(f"\nkilling {victim.node_id} (SIGKILL) with {len(moved)} sessions ...", flush=True)
    # docs/operations.md: back within the TTL plus one recovery pass (a quarter of the TTL).
    print(
        f"  its leases expire after ZAPHUB_SESSION_LEASE_TTL_S={LEASE_TTL_S:g} s "
        f"(30 s by default); expect them back within about {LEASE_TTL_S * 1.25:g} s"
    )
    victim.proc.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    victim.proc.wait(10)

    def taken_over() -> dict[str, str] | None:
        now = owners(nodes)
        placed = all(now.get(sid) not in (None, victim.node_id) for sid in moved)
        return now if placed and connected(control, moved) else None

    after = wait_for(f"{victim.node_id}'s sessions on the survivors", taken_over, LEASE_TTL_S + 30)
    took = time.monotonic() - killed_at
    where = Counter(after[sid] for sid in moved)
    spread = ", ".join(f"{count} on {node}" for node, count in sorted(where.items()))
    print(f"{victim.node_id}'s {len(moved)} sessions connected again after {took:.1f} s: {spread}")
    print(show(after, labels, moved))
    total = Counter(after.values())
    print(f"now: {', '.join(f'{n} {c}' for n, c in sorted(total.items()))} sessions")


def stop_all(procs: list[subprocess.Popen[bytes]], cluster: RedisClusterProcesses | None) -> None:
    for proc in procs:  # all at once: each node drains on SIGTERM, in parallel
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if cluster:
        cluster.stop()  # SIGTERM through the pid files: wait until they are really gone
        deadline = time.monotonic() + 15
        while any(map(port_open, cluster.ports)) and time.monotonic() < deadline:
            time.sleep(0.1)


def log_tails(tmp: Path, lines: int = 25) -> None:
    for log in sorted(tmp.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- {log} (last {len(tail)} lines)", *tail, sep="\n", file=sys.stderr)


def main() -> int:
    admin_url = os.environ.get("ZAPHUB_DATABASE_URL")
    if not admin_url:  # localservices.py exec sets it
        raise SystemExit("cluster-demo: ZAPHUB_DATABASE_URL is not set: run `make cluster-demo`")
    tmp = Path(tempfile.mkdtemp(prefix="zaphubd-cluster-demo-"))
    print(f"logs and data: {tmp}", flush=True)
    procs: list[subprocess.Popen[bytes]] = []
    cluster: RedisClusterProcesses | None = None
    db_url: str | None = None
    try:
        db_url = fresh_database(admin_url)
        cluster = start_cluster(tmp / "redis")
        simnet_port = free_port()
        simnet = ["simnet", "--port", str(simnet_port)]  # no --state: a new network every run
        procs.append(spawn(simnet, dict(os.environ), tmp / "simnet.log"))
        env = {
            **os.environ,
            "ZAPHUB_DATABASE_URL": db_url,
            "ZAPHUB_REDIS_URL": cluster.url,
            "ZAPHUB_TRANSPORT": "simnet",
            "ZAPHUB_SIMNET_URL": f"ws://127.0.0.1:{simnet_port}/ws",
            "ZAPHUB_LOG_FORMAT": "text",
        }
        nodes = [start_node(node_id, tmp, env) for node_id in NODE_IDS]
        procs[:0] = [n.proc for n in nodes]  # nodes first: they stop before simnet goes
        print(f"redis cluster: {cluster.url}\nsimnet: :{simnet_port}")
        print("nodes: " + ", ".join(f"{n.node_id} :{n.port}" for n in nodes), flush=True)
        for node in nodes:
            wait_for(f"{node.node_id} to be healthy", partial(healthy, node), 60)
        demo(nodes, f"http://127.0.0.1:{simnet_port}/control")
        print("\nok: stopping everything", flush=True)
        return 0
    except (DemoError, RuntimeError, urllib.error.HTTPError) as err:
        print(f"\ncluster-demo FAILED: {err}", file=sys.stderr)
        log_tails(tmp)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping everything", file=sys.stderr)
        return 130
    finally:
        stop_all(procs, cluster)
        if db_url:
            asyncio.run(_admin(admin_url, f"DROP DATABASE IF EXISTS {DEMO_DB} WITH (FORCE)"))


if __name__ == "__main__":
    sys.exit(main())
