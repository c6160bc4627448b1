#!/usr/bin/env python3
"""`make demo`: zaphubd on the simulated WhatsApp network, no phone needed.

Starts simnet and the daemon (ZAPHUB_TRANSPORT=simnet) on the Postgres and Redis that
`make run` uses, then does what a newcomer would do by hand (README, "Try it without a
phone"): create a session, show its QR in the terminal, scan it through simnet's control API
as a phone, send a message, and print what the recipient's mailbox received and which events
were recorded. Both processes keep running until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PHONE = "5511900000001"
RECIPIENT = "5511988887777"


def free_or(port: int) -> int:
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(method: str, url: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    key = os.environ.get("ZAPHUB_API_KEY")
    if key and "/control/" not in url:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def wait_for(what: str, probe: Any, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            result = probe()
        except (urllib.error.URLError, ConnectionError, OSError):
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise SystemExit(f"demo: timed out waiting for {what}")


def step(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "zaphubd", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def main() -> None:
    run = ROOT / ".run"
    run.mkdir(exist_ok=True)
    simnet_port = free_or(7781)
    http_port = free_or(int(os.environ.get("ZAPHUB_HTTP_PORT", "3000")))
    env = {
        **os.environ,
        "ZAPHUB_TRANSPORT": "simnet",
        "ZAPHUB_SIMNET_URL": f"ws://127.0.0.1:{simnet_port}/ws",
        "ZAPHUB_HTTP_PORT": str(http_port),
        "ZAPHUB_AUTH_DATA_DIR": str(run / "demo-auth"),
        "ZAPHUB_LOG_FORMAT": "text",
    }
    api = f"http://127.0.0.1:{http_port}/api/v1"
    control = f"http://127.0.0.1:{simnet_port}/control"
    step(f"starting simnet on :{simnet_port} and zaphubd on :{http_port} (logs in .run/demo-*.log)")
    simnet = start(
        ["simnet", "--port", str(simnet_port), "--state", str(run / "demo-simnet.json")],
        env,
        run / "demo-simnet.log",
    )
    daemon = start(["serve"], env, run / "demo-daemon.log")
    try:
        wait_for("the daemon", lambda: call("GET", f"{api}/health")["data"]["status"] == "healthy")
        demo(api, control)
        print(
            f"\nBoth keep running. API docs: http://127.0.0.1:{http_port}/api/docs  "
            f"simnet control: {control}/devices\nPress Ctrl-C to stop them.",
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in (daemon, simnet):
            proc.terminate()
        for proc in (daemon, simnet):
            proc.wait(30)


def demo(api: str, control: str) -> None:
    step(f"POST {api}/sessions")
    session = call("POST", f"{api}/sessions", {"label": "demo"})["data"]
    sid = session["id"]
    print(f"session {sid} is {session['status']}")
    wait_for(
        "the QR code",
        lambda: call("GET", f"{api}/sessions/{sid}")["data"]["status"] == "qr_pending",
    )
    step(f"GET {api}/sessions/{sid}/qr?format=terminal")
    print(call("GET", f"{api}/sessions/{sid}/qr?format=terminal")["data"]["qr_code"])
    step(f"POST {control}/scan: the phone {PHONE} scans it")
    call("POST", f"{control}/scan", {"device_id": sid, "phone": PHONE})
    connected = wait_for("the connection", lambda: _status(api, sid, "connected"))
    print(f"connected as {connected['phone_number']}")
    step(f"POST {api}/sessions/{sid}/messages")
    body = {"messageId": "demo-1", "to": RECIPIENT, "text": "Hello from zaphubd!"}
    print(json.dumps(call("POST", f"{api}/sessions/{sid}/messages", body)["data"], indent=2))
    wait_for(
        "the send",
        lambda: (
            call("GET", f"{api}/sessions/{sid}/messages/demo-1")["data"]["status"]
            in ("sent", "delivered", "read")
        ),
    )
    step(f"GET {control}/mailbox/{RECIPIENT}: what the recipient's phone received")
    print(json.dumps(call("GET", f"{control}/mailbox/{RECIPIENT}")["messages"], indent=2))
    step(f"GET {api}/sessions/{sid}/events: what zaphubd recorded")
    for event in reversed(call("GET", f"{api}/sessions/{sid}/events?limit=50")["data"]):
        print(f"  {event['created_at']}  {event['event_type']}")


def _status(api: str, sid: str, status: str) -> dict[str, Any] | None:
    session: dict[str, Any] = call("GET", f"{api}/sessions/{sid}")["data"]
    return session if session["status"] == status else None


if __name__ == "__main__":
    main()
