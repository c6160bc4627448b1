"""Backlogs stay in Postgres: bounded memory, other sessions unaffected, and the queue's
figures in the stats route and /metrics."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bench.backlog_bench import run_backlog
from tests.gateway import Gateway, StartGateway, eventually

RECIPIENT = "5511977770000"


async def test_a_large_backlog_costs_no_memory_and_delays_no_one() -> None:
    """The issue's scenario at a reduced size (the full one is tests/bench/backlog_bench.py):
    50,000 sends wait for a session never connected and 50,000 for one paced at 60/min, the
    daemon restarts with them waiting, and ten other sessions send 100/s meanwhile."""
    result = await run_backlog(dormant=50_000, paced=50_000, others=10, rate=100, seconds=5)
    print("backlog |", result)
    assert result["rss_growth_mib"] < 30, result
    assert result["others_with_backlog"]["p50_ms"] < 20, result
    assert result["dormant_still_queued"] == 50_000
    # Paced at one a second, whatever waits behind.
    assert result["paced_sent_during_load"] <= result["paced_window_s"] + 2, result


async def _stats(gw: Gateway, sid: str) -> dict[str, Any]:
    resp = await gw.api.get(f"/api/v1/sessions/{sid}/stats")
    assert resp.status == 200, await resp.text()
    sends: dict[str, Any] = (await resp.json())["data"]["sends"]
    return sends


async def test_stats_and_metrics_show_a_paced_backlog(gateway: StartGateway) -> None:
    gw = await gateway(send_prefetch=4)
    sid = (await gw.connect("5511977770001", config={"sendRatePerMinute": 6}))["id"]
    for n in range(12):
        body = {"messageId": f"paced-{n}", "to": RECIPIENT, "text": f"{n}"}
        resp = await gw.api.post(f"/api/v1/sessions/{sid}/messages", json=body)
        assert resp.status == 201

    async def one_sent() -> bool:
        return len(await gw.net.mailbox(RECIPIENT)) >= 1

    await eventually(one_sent)
    sends = await _stats(gw, sid)
    assert sends["queued"] + sends["in_flight"] == 11, sends
    assert sends["waiting_for_pacing"] == sends["queued"]
    assert sends["prefetched_here"] <= 4  # the lane holds its prefetch, not the backlog
    assert sends["oldest_queued_age_s"] is not None and sends["oldest_queued_age_s"] >= 0
    totals = (await (await gw.api.get("/api/v1/sessions/stats")).json())["data"]["sends"]
    assert totals["queued"] == sends["queued"]
    metrics = await (await gw.api.get("/metrics")).text()
    assert f'zaphubd_send_backlog{{session="{sid}",state="queued"}} {sends["queued"]}.0' in metrics
    assert f'zaphubd_send_oldest_queued_age_seconds{{session="{sid}"}}' in metrics


@pytest.mark.parametrize("label_cap", [1])
async def test_metrics_aggregate_sessions_beyond_the_label_cap(
    gateway: StartGateway, label_cap: int
) -> None:
    from zaphubd.http import appkeys

    gw = await gateway()
    app = gw.api.server.app
    app[appkeys.SEND_BACKLOG]._label_cap = label_cap  # what a daemon with many sessions sees
    ids = [(await gw.create())["id"] for _ in range(3)]
    for n, sid in enumerate(ids):
        for k in range(n + 1):
            body = {"messageId": f"m-{k}", "to": RECIPIENT, "text": "x"}
            await gw.api.post(f"/api/v1/sessions/{sid}/messages", json=body)
    metrics = await (await gw.api.get("/metrics")).text()
    assert f'zaphubd_send_backlog{{session="{ids[2]}",state="queued"}} 3.0' in metrics
    assert 'zaphubd_send_backlog{session="other",state="queued"} 3.0' in metrics
    assert ids[0] not in metrics and ids[1] not in metrics
