"""The simnet server: one aiohttp app with the device WebSocket, the media CDN and the
control API on one port. `create_simnet_app` builds it (tests run it in-process);
`run_simnet` serves it until SIGINT or SIGTERM (`zaphubd simnet`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from zaphubd.errors import ConfigError
from zaphubd.simnet.control import DeviceRoutes
from zaphubd.simnet.control_accounts import AccountRoutes
from zaphubd.simnet.control_chats import ChatRoutes
from zaphubd.simnet.control_groups import GroupRoutes
from zaphubd.simnet.control_traffic import TrafficRoutes
from zaphubd.simnet.devices import make_ws_handler
from zaphubd.simnet.media import HTTP_CLIENT, make_media_handler
from zaphubd.simnet.model import SimnetConfig
from zaphubd.simnet.network import Network
from zaphubd.simnet.persist import StateSaver, load_state
from zaphubd.simnet.protocol import MAX_MESSAGE_BYTES
from zaphubd.simnet.validate import error_middleware

log = logging.getLogger("zaphubd.simnet")

NETWORK = web.AppKey("simnet_network", Network)
SHUTDOWN_TIMEOUT_S = 5.0


def create_simnet_app(config: SimnetConfig | None = None) -> web.Application:
    """The simnet aiohttp app; its `NETWORK` key holds the live state (for tests)."""
    net = Network(config or SimnetConfig())
    app = web.Application(client_max_size=MAX_MESSAGE_BYTES, middlewares=[error_middleware])
    app[NETWORK] = net
    app.cleanup_ctx.append(_http_client)
    app.cleanup_ctx.append(_persistence)
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/ws", make_ws_handler(net))
    app.router.add_get("/media/{media_id}", make_media_handler(net.media))
    DeviceRoutes(net).add_to(app)
    TrafficRoutes(net).add_to(app)
    GroupRoutes(net).add_to(app)
    AccountRoutes(net).add_to(app)
    ChatRoutes(net).add_to(app)
    return app


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    # Only used to fetch media URLs given to POST /control/inbound.
    async with aiohttp.ClientSession() as session:
        app[HTTP_CLIENT] = session
        yield


async def _persistence(app: web.Application) -> AsyncIterator[None]:
    net = app[NETWORK]
    path = net.config.state_path
    if path is None:
        yield
        return
    load_state(net, path)
    saver = StateSaver(net, path, net.config.save_delay_s)
    net.on_change = saver.touch
    try:
        yield
    finally:
        await saver.close()
        log.info("simnet state saved to %s", path)


async def _close_sockets(app: web.Application) -> None:
    """Close every device socket as a server going away does (code 1001)."""
    links = list(app[NETWORK].sockets)
    await asyncio.gather(*(link.close(None, code=1001) for link in links))


async def run_simnet(
    host: str,
    port: int,
    state_path: Path | None,
    auto_read_ms: int | None,
    *,
    qr_first_s: float = 60.0,
    qr_next_s: float = 20.0,
    qr_max: int = 6,
) -> None:
    """Serve simnet on host:port until SIGINT or SIGTERM, then save and close."""
    config = SimnetConfig(
        qr_first_s=qr_first_s,
        qr_next_s=qr_next_s,
        qr_max=qr_max,
        auto_read_ms=auto_read_ms,
        state_path=state_path,
    )
    _check(config)
    runner = web.AppRunner(
        create_simnet_app(config), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    try:
        await _listen(runner, host, port)
        await _until_signalled()
        log.info("simnet stopping")
    finally:
        await runner.cleanup()


def _check(config: SimnetConfig) -> None:
    timings = {
        "qr_first_s": config.qr_first_s,
        "qr_next_s": config.qr_next_s,
        "qr_max": config.qr_max,
    }
    problems = [
        f"--{name.replace('_', '-')} must be positive"
        for name, value in timings.items()
        if value <= 0
    ]
    if config.auto_read_ms is not None and config.auto_read_ms < 0:
        problems.append("--auto-read-ms must not be negative")
    if problems:
        raise ConfigError(problems)


async def _listen(runner: web.AppRunner, host: str, port: int) -> None:
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as err:
        raise ConfigError([f"simnet cannot listen on {host}:{port}: {err.strerror}"]) from err
    log.info(
        "simnet listening: devices ws://%s:%d/ws, control http://%s:%d/control",
        host,
        port,
        host,
        port,
    )


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
