"""neonize through a session's proxy, offline: the real Go library dials WhatsApp through a
real SOCKS5 or HTTP proxy (which cannot reach it from here), and a proxy that cannot be
reached is told apart from WhatsApp being unreachable through it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proxy_process import ProxyProcess
from tests.services import localservices
from zaphubd.transport.base import ConnectFailed, ProxyFailed
from zaphubd.transport.neonize import NeonizeTransport

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyProcess]:
    running = ProxyProcess(tmp_path / "pproxy.log").start()
    yield running
    running.stop()


async def _ignore(event: object) -> None:
    pass


@pytest.mark.parametrize("kind", ["socks", "http"])
async def test_the_connection_goes_through_the_proxy(
    transport: NeonizeTransport, proxy: ProxyProcess, kind: str
) -> None:
    url = proxy.socks_url if kind == "socks" else proxy.http_url
    client = transport.client(uuid.uuid4(), _ignore, proxy=url)
    with pytest.raises(ConnectFailed) as failed:
        await client.connect()
    assert not isinstance(failed.value, ProxyFailed)  # the proxy works; WhatsApp is away
    assert "-> web.whatsapp.com:443" in proxy.log()  # whatsmeow asked the proxy for it
    await client.disconnect()


async def test_an_unreachable_proxy_is_a_proxy_failure_without_its_password(
    transport: NeonizeTransport,
) -> None:
    port = localservices.free_port()  # nothing listens there
    client = transport.client(uuid.uuid4(), _ignore, proxy=f"socks5://u:s3cret@127.0.0.1:{port}")
    with pytest.raises(ProxyFailed) as failed:
        await client.connect()
    assert f"proxy socks5://127.0.0.1:{port} failed" in str(failed.value)
    assert "s3cret" not in str(failed.value)
    await client.disconnect()
