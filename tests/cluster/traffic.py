"""What the cluster tests do to a cluster: pair sessions, send per-chat ordered traffic
through random nodes, and read back what simnet's mailboxes received."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from tests.cluster.harness import Cluster, eventually


def sender(i: int) -> str:
    return f"55119100{i:05d}"


def recipient(i: int) -> str:
    return f"55119200{i:05d}"


async def pair(cluster: Cluster, index: int) -> str:
    status, body = await cluster.call("POST", "/api/v1/sessions", {"label": f"s{index}"})
    assert status == 201, body
    sid = body["data"]["id"]

    async def qr_shown() -> bool:
        return (await cluster.call("GET", f"/api/v1/sessions/{sid}"))[1]["data"]["status"] == (
            "qr_pending"
        )

    await eventually(qr_shown, 60)
    await asyncio.to_thread(
        cluster.simnet.control, "POST", "/control/scan", {"device_id": sid, "phone": sender(index)}
    )
    return str(sid)


async def pair_many(cluster: Cluster, count: int, parallel: int = 30) -> list[str]:
    limit = asyncio.Semaphore(parallel)

    async def one(index: int) -> str:
        async with limit:
            return await pair(cluster, index)

    sids = list(await asyncio.gather(*(one(i) for i in range(count))))
    await eventually(lambda: all_connected(cluster, sids), 30 + count / 5)
    return sids


async def all_connected(cluster: Cluster, sids: list[str]) -> bool:
    devices = await asyncio.to_thread(cluster.simnet.devices)
    return all(devices[sid]["state"] == "connected" for sid in sids)


async def placed(cluster: Cluster, count: int) -> dict[str, str]:
    """session id -> node, once every one of `count` sessions is placed."""

    async def probe() -> dict[str, str] | None:
        owners = await cluster.owners()
        return owners if len(owners) == count else None

    result: dict[str, str] = await eventually(probe, 30)
    return result


def spread(owners: dict[str, str]) -> Counter[str]:
    return Counter(owners.values())


@dataclass
class Traffic:
    """One sender per chat, each message accepted before the next (so the chat's order is
    defined). A request cut short by a dying node is sent again, with the same messageId,
    to another node, as a client behind a load balancer would."""

    cluster: Cluster
    sids: list[str]
    per_chat: int
    #: Set: every chat stops after `per_chat`; clear: they go on until it is set.
    enough: asyncio.Event = field(default_factory=asyncio.Event)
    acked: dict[int, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.enough.set()

    @property
    def total(self) -> int:
        return sum(map(len, self.acked.values()))

    async def run(self) -> None:
        await asyncio.gather(*(self._chat(i, sid) for i, sid in enumerate(self.sids)))

    async def _chat(self, index: int, sid: str) -> None:
        acked = self.acked.setdefault(index, [])
        n = 0
        while n < self.per_chat or not self.enough.is_set():
            message_id = f"m{index}-{n}"
            body = {"messageId": message_id, "to": recipient(index), "text": message_id}
            status, reply = await self.cluster.call(
                "POST", f"/api/v1/sessions/{sid}/messages", body
            )
            assert status in (200, 201), reply
            acked.append(message_id)
            n += 1

    async def reached(self, count: int) -> None:
        async def probe() -> bool:
            return self.total >= count

        await eventually(probe, 120, 0.01)

    async def delivered(self, timeout_s: float = 90) -> dict[int, list[str]]:
        """What each chat's mailbox holds once it holds at least what was acked."""

        async def probe() -> dict[int, list[str]] | None:
            boxes = await mailboxes(self.cluster, len(self.sids))
            done = all(len(boxes[i]) >= len(self.acked.get(i, [])) for i in boxes)
            return boxes if done else None

        result: dict[int, list[str]] = await eventually(probe, timeout_s, 0.5)
        return result

    def check(self, boxes: dict[int, list[str]]) -> None:
        """Every acked message delivered exactly once, in its chat's order."""
        for i, texts in boxes.items():
            assert texts == self.acked.get(i, []), (i, texts, self.acked.get(i))


async def mailboxes(cluster: Cluster, chats: int) -> dict[int, list[str]]:
    result = {}
    for i in range(chats):
        box = await asyncio.to_thread(
            cluster.simnet.control, "GET", f"/control/mailbox/{recipient(i)}"
        )
        result[i] = [m["content"]["text"] for m in box["messages"]]
    return result


async def qr_count_unchanged(cluster: Cluster, sids: list[str], reconnected: bool) -> None:
    """Resumed from the shared credentials: still the first QR only, and no logout."""
    for sid in sids:
        status, events = await cluster.call(
            "GET", f"/api/v1/sessions/{sid}/events?limit=200&type=session"
        )
        assert status == 200, events
        types = [e["event_type"] for e in events["data"]]
        assert types.count("session.qr_generated") == 1, types
        assert "session.logged_out" not in types, types
        if reconnected:
            assert types.count("session.connected") >= 2, types
