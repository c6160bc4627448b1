"""Whole-process behaviour of the neonize transport, each in a fresh Python process.

A Go abort ("concurrent map writes", a nil dereference) kills the process outright, so these
run the code in subprocesses and read the exit status and the output: a crash cannot hide,
and no test here shares neonize's one-loop-per-process state with the others.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: This machine's resolver drops a query now and then and Go waits 5 s before asking again;
#: a 1 s retry keeps these offline connects fast (Go reads it from the process environment).
RESOLVER = {"RES_OPTIONS": "timeout:1 attempts:1"}

CONCURRENT = textwrap.dedent(
    """
    import asyncio, json, sys, uuid, warnings
    from pathlib import Path
    from zaphubd.transport.base import ConnectFailed
    from zaphubd.transport.neonize import NeonizeTransport

    async def main(auth: Path, count: int) -> None:
        transport = NeonizeTransport(auth, count)
        await transport.start()

        async def ignore(event):
            pass

        clients = [transport.client(uuid.uuid4(), ignore) for _ in range(count)]
        # Round 1: all connect at once, then all stop at once.
        first = await asyncio.gather(*(c.connect() for c in clients), return_exceptions=True)
        await asyncio.gather(*(c.disconnect() for c in clients))

        # Round 2: each connects and stops at once, all concurrently.
        async def cycle(client):
            try:
                await client.connect()
            except ConnectFailed:
                pass
            await client.disconnect()

        await asyncio.gather(*(cycle(c) for c in clients))
        await transport.close()
        failed = sum(isinstance(r, ConnectFailed) for r in first)
        print(json.dumps({
            "failed": failed,
            "cycles": transport.metrics.connect_cycles,
            "handler_errors": transport.metrics.handler_errors,
            "lost_threads": transport.metrics.lost_threads,
            "connected": sum(c.is_connected for c in clients),
        }))

    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
    """
)


def run(args: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore::ResourceWarning", **RESOLVER}
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def test_fifty_clients_connecting_and_stopping_concurrently_do_not_crash(tmp_path: Path) -> None:
    done = run([sys.executable, "-c", CONCURRENT, str(tmp_path / "auth"), "50"], 90)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary == {
        "failed": 50,
        "cycles": 100,
        "handler_errors": 0,
        "lost_threads": 0,
        "connected": 0,
    }
    assert "fatal error" not in done.stderr and "panic" not in done.stderr


def start_standalone(auth: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore::ResourceWarning", **RESOLVER}
    return subprocess.Popen(
        [sys.executable, "-m", "zaphubd", "standalone", "--auth-dir", str(auth)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout_s: float) -> list[str]:
    assert process.stderr is not None
    os.set_blocking(process.stderr.fileno(), False)
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if line:
            seen.append(line)
            if needle in line:
                return seen
        else:
            time.sleep(0.02)
    raise AssertionError(f"{needle!r} not logged in time; got: {''.join(seen)[-2000:]}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_standalone_starts_and_exits_cleanly_on_a_signal(tmp_path: Path, signum: int) -> None:
    auth = tmp_path / "auth"
    process = start_standalone(auth)
    try:
        wait_for_line(process, "retrying in", 30)  # offline: the connect failed, it waits
        started = time.monotonic()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 5
    assert "zaphubd.standalone: stopped" in stderr
    assert "Traceback" not in stderr
    session_file = auth / "standalone-session"
    first_id = session_file.read_text()
    assert (auth / first_id.strip() / "store.db").is_file()
    # A second run keeps the same session (and so finds its credentials again).
    again = start_standalone(auth)
    try:
        wait_for_line(again, first_id.strip(), 30)
        again.send_signal(signal.SIGINT)
        again.communicate(timeout=10)
    finally:
        again.kill()
    assert again.returncode == 0
    assert session_file.read_text() == first_id
