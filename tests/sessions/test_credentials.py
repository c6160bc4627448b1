"""Where session credentials live: Postgres, shared by every node; local files only when
configured (single node), and moved into Postgres on the first start after an upgrade."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.gateway import SLOW_QR, Gateway, eventually
from tests.simnet_harness import StartSimnet


async def test_local_credentials_move_to_postgres_without_a_new_qr(
    api: Callable[..., Awaitable[Any]], start_simnet: StartSimnet, tmp_path: Path
) -> None:
    net = await start_simnet(SLOW_QR)
    auth_dir = tmp_path / "auth"
    common = {
        "transport": "simnet",
        "simnet_url": net.url,
        "auth_data_dir": auth_dir,
        "session_lease_ttl_s": 3,
        "reconnect_base_s": 0.2,
    }
    old = Gateway(await api(credentials_store="local", **common), net, auth_dir)
    sid = (await old.connect("5511900000301"))["id"]
    assert (auth_dir / sid / "simnet-creds.json").is_file()  # the single-node layout
    assert await old.credentials(sid) is None
    await old.api.close()  # the daemon stops; its lease is released

    new = Gateway(await api(credentials_store="postgres", **common), net, auth_dir)

    async def reconnected() -> bool:
        types = await new.event_types(sid)
        return types.count("session.connected") == 2

    await eventually(reconnected)
    assert (await new.credentials(sid) or {}).get("device_id") == sid
    assert not (auth_dir / sid).exists()
    assert (await net.device(sid))["state"] == "connected"
    types = await new.event_types(sid)
    assert types.count("session.qr_generated") == 1  # only the first pairing's: it resumed
