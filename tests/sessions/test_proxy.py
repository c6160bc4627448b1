"""config.proxy: a session's connection and media go through its proxy; the password is
never shown back; a bad URL is a 400; a proxy that cannot be reached fails the session with
a clear error at once, without a reconnect storm."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway import Gateway, StartGateway, eventually
from tests.messaging.conftest import png_bytes
from tests.proxy_process import ProxyProcess
from tests.replying_proxy import replying_proxy
from tests.services import localservices

ME = "5511900000081"
FRIEND = "5511988880081"


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyProcess]:
    running = ProxyProcess(tmp_path / "pproxy.log").start()
    yield running
    running.stop()


def with_password(url: str) -> str:
    return url.replace("://", "://zap:s3cret-pass@")


@pytest.mark.parametrize("kind", ["socks", "http"])
async def test_a_session_connects_and_sends_through_its_proxy(
    gateway: StartGateway, proxy: ProxyProcess, kind: str
) -> None:
    gw = await gateway()
    url = proxy.socks_url if kind == "socks" else proxy.http_url
    session = await gw.connect(ME, config={"proxy": with_password(url)})
    simnet_port = gw.net.url.rsplit(":", 1)[1].split("/")[0]
    assert f"-> 127.0.0.1:{simnet_port}" in proxy.log()  # the WebSocket went through it
    shown = session["config"]["proxy"]
    assert shown == url.replace("://", "://zap:***@") and "s3cret" not in str(session)
    body = {"messageId": "via-proxy", "to": FRIEND, "text": "hello"}
    resp = await gw.api.post(f"/api/v1/sessions/{session['id']}/messages", json=body)
    assert resp.status == 201, await resp.text()
    await assert_media_comes_through(gw, session["id"], proxy, f"-> 127.0.0.1:{simnet_port}")


async def assert_media_comes_through(
    gw: Gateway, sid: str, proxy: ProxyProcess, to_simnet: str
) -> None:
    """An inbound image, fetched through the API, is downloaded through the proxy too."""
    png = png_bytes()
    image = {"data": base64.b64encode(png).decode(), "mimeType": "image/png"}
    inbound = {
        "from": FRIEND,
        "to": ME,
        "id": "PROXIED-IMG",
        "message": {"type": "image", "image": image},
    }
    await gw.net.post("/control/inbound", inbound)
    [received] = await eventually(lambda: gw.events(sid, event_type="message.received"))
    carried = proxy.log().count(to_simnet)
    media = await gw.api.get(received["payload"]["content"]["url"])
    assert media.status == 200 and await media.read() == png
    assert proxy.log().count(to_simnet) > carried  # a new connection, through the proxy


@pytest.mark.parametrize(
    ("proxy_url", "message"),
    [
        ("ftp://127.0.0.1:21", "scheme must be one of"),
        ("socks5://127.0.0.1", "a port is required"),
        ("http://127.0.0.1:8080/path", "only scheme, credentials, host and port"),
        ("http://zap:***@127.0.0.1:8080", "the masked one"),
        ("socks5://:1080", "a host is required"),
        ("not a url", "scheme must be one of"),
    ],
)
async def test_a_bad_proxy_url_is_refused(
    gateway: StartGateway, proxy_url: str, message: str
) -> None:
    gw = await gateway()
    created = await gw.create()
    resp = await gw.api.patch(
        f"/api/v1/sessions/{created['id']}", json={"config": {"proxy": proxy_url}}
    )
    assert resp.status == 400, await resp.text()
    assert message in await resp.text()
    resp = await gw.api.post(
        "/api/v1/sessions", json={"label": "x", "config": {"proxy": proxy_url}}
    )
    assert resp.status == 400


async def test_an_unreachable_proxy_fails_the_session_at_once(gateway: StartGateway) -> None:
    gw = await gateway()
    dead = f"socks5://zap:s3cret-pass@127.0.0.1:{localservices.free_port()}"
    session = await gw.create(config={"proxy": dead, "retryLimit": 5})
    failed = await gw.wait_status(session["id"], "failed")
    assert "proxy socks5://127.0.0.1:" in failed["error_message"]
    assert "s3cret" not in failed["error_message"]
    types = await gw.event_types(session["id"])
    assert "session.reconnecting" not in types  # no retries against a proxy that is not there
    events: list[dict[str, Any]] = await gw.events(session["id"])
    assert all("s3cret" not in str(e) for e in events)


@pytest.mark.parametrize(
    ("kind", "code", "retried"),
    [
        ("socks5", 5, True),  # connection refused by the target
        ("socks5", 4, True),  # host unreachable
        ("socks5", 2, False),  # not allowed by the proxy's rule set
        ("http", 503, True),
        ("http", 407, False),  # credentials refused
        ("http", 403, False),
    ],
)
async def test_a_proxy_reply_says_whose_fault_it_is(
    gateway: StartGateway, kind: str, code: int, retried: bool
) -> None:
    """A proxy that works but cannot reach WhatsApp is retried like any network failure; a
    proxy that refuses the session fails it at once."""
    gw = await gateway()
    async with replying_proxy(kind, code) as url:
        session = await gw.create(config={"proxy": with_password(url), "retryLimit": 1})
        failed = await gw.wait_status(session["id"], "failed")
    types = await gw.event_types(session["id"])
    assert ("session.reconnecting" in types) is retried
    message = failed["error_message"]
    if retried:
        assert (
            message.startswith("could not reach the WhatsApp network")
            and "through proxy" in message
        )
    else:
        assert message.startswith("the session's proxy failed") and str(code) in message
    assert "s3cret" not in message
