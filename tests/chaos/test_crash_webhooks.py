"""A crash while inbound messages arrive: every stored message still reaches the webhook.

Contacts send 200 messages to a session whose webhook takes `message.received`; the daemon
is killed (SIGKILL) while they are being handled, and started again. simnet keeps what the
daemon did not acknowledge and hands it over on reconnect; events recorded just before the
kill whose deliveries were not written yet are found by the catch-up. Every inbound message
stored must have reached the receiver.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.chaos.report import report
from tests.chaos.test_crash import SENDER, daemon_env, pair
from tests.chaos.test_webhook_outage import Receiver
from tests.daemon_process import DaemonProcess
from tests.simnet_process import SimnetProcess, http_json, wait_until

TOTAL = 200
CONTACT = "5511950000000"


def stored_inbound(daemon: DaemonProcess, sid: str) -> set[str]:
    ids: set[str] = set()
    offset = 0
    while True:
        url = f"{daemon.url}/api/v1/sessions/{sid}/messages?direction=inbound&limit=100"
        body = http_json("GET", f"{url}&offset={offset}")[1]
        ids |= {m["messageId"] for m in body["data"]}
        if not body["pagination"]["has_more"]:
            return ids
        offset += 100


def test_sigkill_while_receiving_loses_no_webhook(
    pg_url: str, redis_url: str, simnet: SimnetProcess, tmp_path: Path
) -> None:
    env = daemon_env(pg_url, redis_url, simnet, tmp_path) | {"ZAPHUB_WEBHOOK_ALLOW_PRIVATE": "true"}
    first = DaemonProcess(env, tmp_path / "first.log").start()
    receiver = Receiver()

    def received() -> set[str]:
        return {e["payload"]["messageId"] for e in receiver.got if e["event"] == "message.received"}

    async def scenario() -> None:
        await receiver.up()
        try:
            await asyncio.to_thread(first.wait_healthy)
            sid = await asyncio.to_thread(pair, first, simnet)
            hook = {"webhook_url": receiver.url, "config": {"webhookEvents": ["message.received"]}}
            await asyncio.to_thread(http_json, "PATCH", f"{first.url}/api/v1/sessions/{sid}", hook)
            for n in range(TOTAL):
                message = {"type": "text", "text": f"in-{n}"}
                inbound = {"from": CONTACT, "to": SENDER, "message": message, "id": f"IN{n:04d}"}
                await asyncio.to_thread(simnet.control, "POST", "/control/inbound", inbound)
                if n == TOTAL // 2:
                    while len(received()) < TOTAL // 4:
                        await asyncio.sleep(0.01)
                    first.signal(signal.SIGKILL)  # mid-stream: some handled, some not
            await asyncio.to_thread(first.wait, 30)
            second.start()
            await asyncio.to_thread(second.wait_healthy)

            def all_arrived() -> bool:
                stored = stored_inbound(second, sid)
                return len(stored) == TOTAL and stored <= received()

            try:
                await asyncio.to_thread(wait_until, all_arrived, 90, 0.5)
            except AssertionError:
                missing = sorted(stored_inbound(second, sid) - received())
                raise AssertionError(f"no message.received webhook for {missing}") from None
        finally:
            await receiver.down()

    second = DaemonProcess(env, tmp_path / "second.log", port=first.port)
    try:
        asyncio.run(scenario())
    finally:
        first.stop()
        second.stop()
    stored = {f"IN{n:04d}" for n in range(TOTAL)}
    arrived = received()
    report(
        "daemon SIGKILL while receiving (webhooks)",
        inbound=TOTAL,
        stored=len(stored),
        webhook_received=len(arrived & stored),
        lost=len(stored - arrived),
        received_twice=sum(
            1
            for m in arrived
            if sum(1 for e in receiver.got if e["payload"].get("messageId") == m) > 1
        ),
    )
    assert stored <= arrived
