"""The delivery history's attempt_log: every attempt's time, status or error, and latency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.gateway import StartGateway
from tests.webhooks.conftest import Receiver, wait_delivery, webhook_gateway

ONLY_CREATED = {"webhookEvents": ["session.initializing"]}
CLOSED = "http://127.0.0.1:9/hook"  # discard port: nothing listens


def _times(log: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(entry["at"]) for entry in log]


async def test_a_500_then_a_200_are_two_entries_newest_last(
    gateway: StartGateway, receiver: Receiver
) -> None:
    receiver.script = [500]
    gw = await webhook_gateway(gateway)
    sid = (await gw.create(webhook_url=receiver.url, config=ONLY_CREATED))["id"]
    item = await wait_delivery(gw, sid, "delivered")
    log = item["attempt_log"]
    assert [e["status_code"] for e in log] == [500, 200]
    assert [e["error"] for e in log] == ["HTTP 500", None]
    assert all(e["latency_ms"] >= 0 for e in log)
    first, second = _times(log)
    assert first.utcoffset() is not None and first.utcoffset().total_seconds() == 0
    assert first < second


async def test_a_network_error_is_logged_with_its_text(gateway: StartGateway) -> None:
    gw = await webhook_gateway(gateway, webhook_max_retries=1)
    sid = (await gw.create(webhook_url=CLOSED, config=ONLY_CREATED))["id"]
    item = await wait_delivery(gw, sid, "failed")
    log = item["attempt_log"]
    assert len(log) == 2 == item["attempts"]
    for entry in log:
        assert entry["status_code"] is None and entry["latency_ms"] >= 0
        assert entry["error"].startswith("network error") and len(entry["error"]) <= 300
    assert _times(log) == sorted(_times(log))


async def test_the_log_keeps_only_the_newest_retry_limit_plus_one(
    gateway: StartGateway, receiver: Receiver
) -> None:
    receiver.default = 503
    gw = await webhook_gateway(gateway, webhook_max_retries=1)
    sid = (await gw.create(webhook_url=receiver.url, config=ONLY_CREATED))["id"]
    failed = await wait_delivery(gw, sid, "failed")
    assert len(failed["attempt_log"]) == 2
    receiver.default = 200
    resp = await gw.api.post(
        f"/api/v1/sessions/{sid}/webhook/retry", json={"delivery_id": failed["delivery_id"]}
    )
    assert resp.status == 202, await resp.text()
    item = await wait_delivery(gw, sid, "delivered")
    assert item["attempts"] == 3 and len(receiver.received) == 3
    log = item["attempt_log"]
    assert [e["status_code"] for e in log] == [503, 200]  # the first attempt was dropped
    assert log[0] == failed["attempt_log"][1]
    assert _times(log) == sorted(_times(log))
