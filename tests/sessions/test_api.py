"""The session endpoints' contract: validation, errors, filters, pagination, secrets."""

from __future__ import annotations

import uuid

import pytest

from tests.gateway import StartGateway

ROUTES = [
    ("GET", ""),
    ("PATCH", ""),
    ("DELETE", ""),
    ("GET", "/qr"),
    ("GET", "/status"),
    ("POST", "/restart"),
    ("POST", "/pair"),
    ("GET", "/events"),
]


@pytest.mark.parametrize(("method", "suffix"), ROUTES)
async def test_bad_and_unknown_ids(gateway: StartGateway, method: str, suffix: str) -> None:
    gw = await gateway()
    body = {"label": "x"} if method == "PATCH" else {"phone": "5511999999999"}
    bad = await gw.api.request(method, f"/api/v1/sessions/not-a-uuid{suffix}", json=body)
    assert bad.status == 400
    err = (await bad.json())["error"]
    assert err["type"] == "ValidationError" and "id" in err["details"]
    missing = await gw.api.request(method, f"/api/v1/sessions/{uuid.uuid4()}{suffix}", json=body)
    assert missing.status == 404
    assert (await missing.json())["error"]["type"] == "NotFoundError"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"label"}),
        ({"label": ""}, {"label"}),
        ({"label": "   "}, {"label"}),
        ({"label": "x" * 101}, {"label"}),
        ({"label": "a", "webhook_url": "ftp://example.com/x"}, {"webhook_url"}),
        ({"label": "a", "webhook_secret": "short"}, {"webhook_secret"}),
        ({"label": "a", "config": {"retryLimit": 11}}, {"config.retryLimit"}),
        ({"label": "a", "config": {"retryLimit": "3"}}, {"config.retryLimit"}),
        ({"label": "a", "config": {"bogus": True}}, {"config.bogus"}),
        ({"label": "a", "config": {"webhookEvents": ["message.nope"]}}, {"config.webhookEvents.0"}),
        ({"label": "a", "extra": 1}, {"extra"}),
    ],
)
async def test_create_validation(gateway: StartGateway, body: dict, fields: set[str]) -> None:  # type: ignore[type-arg]
    gw = await gateway()
    resp = await gw.api.post("/api/v1/sessions", json=body)
    assert resp.status == 400
    err = (await resp.json())["error"]
    assert err["type"] == "ValidationError"
    assert set(err["details"]) == fields


async def test_webhook_secret_is_write_only(gateway: StartGateway) -> None:
    gw = await gateway()
    secret = "whsec-super-secret-value"
    created = await gw.create(webhook_url="https://hooks.example.com/z", webhook_secret=secret)
    fetched = await gw.api.get(f"/api/v1/sessions/{created['id']}")
    listed = await gw.api.get("/api/v1/sessions")
    for text in (str(created), await fetched.text(), await listed.text()):
        assert secret not in text
    assert created["has_webhook_secret"] is True
    assert "webhook_secret" not in created


async def test_patch_merges_config_and_refuses_empty(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.create(config={"retryLimit": 2, "rejectCalls": True}))["id"]
    empty = await gw.api.patch(f"/api/v1/sessions/{sid}", json={})
    assert empty.status == 400
    assert "nothing to update" in (await empty.json())["error"]["message"]
    resp = await gw.api.patch(
        f"/api/v1/sessions/{sid}",
        json={
            "label": "Renamed",
            "config": {"retryLimit": 4},
            "webhook_url": "https://h.example/x",
        },
    )
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["label"] == "Renamed"
    assert data["config"] == {"retryLimit": 4, "rejectCalls": True}
    assert data["webhook_url"] == "https://h.example/x"
    cleared = await gw.api.patch(f"/api/v1/sessions/{sid}", json={"webhook_url": None})
    assert (await cleared.json())["data"]["webhook_url"] is None


async def test_list_filters_sorts_and_counts(gateway: StartGateway) -> None:
    gw = await gateway()
    for label in ("bravo", "alpha", "charlie"):
        await gw.create(label=label)
    resp = await gw.api.get(
        "/api/v1/sessions", params={"sortBy": "label", "sortOrder": "asc", "limit": 2}
    )
    body = await resp.json()
    assert [s["label"] for s in body["data"]] == ["alpha", "bravo"]
    assert body["pagination"] == {"total": 3, "limit": 2, "offset": 0, "has_more": True}
    page2 = await (
        await gw.api.get(
            "/api/v1/sessions",
            params={"sortBy": "label", "sortOrder": "asc", "limit": 2, "offset": 2},
        )
    ).json()
    assert [s["label"] for s in page2["data"]] == ["charlie"]
    assert page2["pagination"]["has_more"] is False
    filtered = await (await gw.api.get("/api/v1/sessions", params={"status": "failed"})).json()
    assert filtered["data"] == [] and filtered["pagination"]["total"] == 0
    for params in (
        {"sortBy": "password"},
        {"limit": 101},
        {"limit": 0},
        {"offset": -1},
        {"status": "zombie"},
        {"sortOrder": "up"},
    ):
        bad = await gw.api.get("/api/v1/sessions", params=params)
        assert bad.status == 400, params


async def test_events_filters(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.connect("5511900000020"))["id"]
    all_events = await gw.events(sid)
    assert {e["event_category"] for e in all_events} == {"session"}
    only = await gw.events(sid, event_type="session.connected")
    assert [e["event_type"] for e in only] == ["session.connected"]
    by_cat = await gw.events(sid, type="session")
    assert len(by_cat) == len(all_events)
    none = await gw.events(sid, type="message")
    assert none == []
    later = await gw.events(sid, **{"from": "2999-01-01T00:00:00Z"})
    assert later == []
    first = await gw.api.get(f"/api/v1/sessions/{sid}/events", params={"limit": 1})
    body = await first.json()
    assert body["data"][0]["event_type"] == "session.connected"  # newest first
    assert body["pagination"]["total"] == len(all_events)
    for params in ({"limit": 201}, {"type": "nope"}, {"event_type": "x.y"}, {"from": "yesterday"}):
        bad = await gw.api.get(f"/api/v1/sessions/{sid}/events", params=params)
        assert bad.status == 400, params


async def test_status_and_stats(gateway: StartGateway) -> None:
    gw = await gateway()
    connected = await gw.connect("5511900000021")
    resp = await gw.api.get(f"/api/v1/sessions/{connected['id']}/status")
    status = (await resp.json())["data"]
    assert status["db_status"] == "connected" and status["runtime_status"] == "connected"
    assert status["is_connected"] is True and status["has_qr_code"] is False
    assert status["phone_number"] == "5511900000021"
    stats = (await (await gw.api.get("/api/v1/sessions/stats")).json())["data"]
    assert stats["sessions_by_status"]["connected"] == 1
    assert set(stats["queues"]) >= {"session-init", "webhook-delivery"}
    assert stats["queues"]["session-init"] == {"pending": 0, "in_flight": 0, "dlq": 0}
