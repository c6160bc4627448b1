"""Webhook URLs on loopback, private or metadata addresses: refused when set, and at delivery."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest

from tests.gateway import StartGateway
from tests.webhooks.conftest import Receiver, app_of, emit, wait_delivery
from zaphubd.http import appkeys


def _loopback_name() -> str | None:
    """This machine's host name when it resolves to a loopback address (the DNS case)."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
    except OSError:
        return None
    return name if all(info[4][0].startswith("127.") for info in infos) else None


LOOPBACK_NAME = _loopback_name()
REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://localhost:8080/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://10.1.2.3/hook",
    "http://[::1]:8080/hook",
    "http://2130706433/hook",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_private_urls_are_refused_when_set(gateway: StartGateway, url: str) -> None:
    gw = await gateway()
    resp = await gw.api.post("/api/v1/sessions", json={"label": "x", "webhook_url": url})
    assert resp.status == 400, await resp.text()
    error = (await resp.json())["error"]
    assert error["type"] == "ValidationError" and "webhook_url" in error["details"]
    listed = await (await gw.api.get("/api/v1/sessions")).json()
    assert listed["pagination"]["total"] == 0


@pytest.mark.skipif(LOOPBACK_NAME is None, reason="the host name does not resolve to loopback")
async def test_a_name_resolving_to_loopback_is_refused(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.create(webhook_url="https://hooks.example.com/z"))["id"]
    url = f"http://{LOOPBACK_NAME}:8080/hook"
    resp = await gw.api.patch(f"/api/v1/sessions/{sid}", json={"webhook_url": url})
    assert resp.status == 400, await resp.text()
    assert "forbidden address" in (await resp.json())["error"]["details"]["webhook_url"][0]
    assert (await gw.session(sid))["webhook_url"] == "https://hooks.example.com/z"


async def test_private_urls_are_allowed_when_configured(gateway: StartGateway) -> None:
    gw = await gateway(webhook_allow_private=True)
    for url in REFUSED:
        created = await gw.create(webhook_url=url)
        assert created["webhook_url"] == url


async def test_a_private_url_is_refused_at_delivery_and_not_retried(
    gateway: StartGateway, receiver: Receiver
) -> None:
    gw = await gateway(webhook_backoff_base_ms=50)
    repo = app_of(gw)[appkeys.SESSION_REPO]
    # Stored before the rule applied (or through another daemon's settings).
    sids = []
    urls = [receiver.url]
    if LOOPBACK_NAME:
        urls.append(receiver.url.replace("127.0.0.1", LOOPBACK_NAME))
    for url in urls:
        row = await repo.create(uuid.uuid4(), "old", url, None, {})
        sids.append(str(row.id))
        await emit(gw, str(row.id), "chat.presence", {"state": "composing"})
    for sid in sids:
        item = await wait_delivery(gw, sid, "failed")
        assert item["attempts"] == 1 and item["last_status_code"] is None
        assert item["last_error"].startswith("refused:")
    await asyncio.sleep(0.3)
    assert receiver.received == []


async def test_the_test_endpoint_applies_the_same_rules(gateway: StartGateway) -> None:
    gw = await gateway()
    sid = (await gw.create())["id"]
    resp = await gw.api.post(
        f"/api/v1/sessions/{sid}/webhook/test", json={"url": "http://127.0.0.1:9/hook"}
    )
    assert resp.status == 400
    assert "url" in (await resp.json())["error"]["details"]
