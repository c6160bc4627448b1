"""Two accounts on simnet, each a zaphubd session, and the API calls of message actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.gateway import Gateway, eventually
from tests.messaging.test_send import message, wait_message_status

ALICE, BOB, CAROL = "5511911110001", "5511922220002", "5511933330003"


def jid_of(phone: str) -> str:
    return f"{phone}@s.whatsapp.net"


@dataclass
class Pair:
    gw: Gateway
    alice: str  # session ids
    bob: str

    async def call(
        self, method: str, sid: str, path: str, body: Any = None, **params: Any
    ) -> tuple[int, dict[str, Any]]:
        url = f"/api/v1/sessions/{sid}/messages{path}"
        resp = await self.gw.api.request(method, url, json=body, params=params or None)
        return resp.status, await resp.json()

    async def send_text(self, sid: str, key: str, to: str, text: str, **extra: Any) -> str:
        """Send and wait until delivered; the WhatsApp id."""
        status, body = await self.call(
            "POST", sid, "", {"messageId": key, "to": to, "text": text, **extra}
        )
        assert status == 201, body
        row = await wait_message_status(self.gw, sid, key, "delivered", "read")
        wa_id: str = row["wa_message_id"]
        return wa_id

    async def sent(self, sid: str, key: str) -> dict[str, Any]:
        return await wait_message_status(self.gw, sid, key, "sent", "delivered", "read")

    async def row(self, sid: str, key: str) -> dict[str, Any]:
        return await message(self.gw, sid, key)

    async def event(self, sid: str, event_type: str, count: int = 1) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            found = await self.gw.events(sid, event_type=event_type)
            return [e["payload"] for e in found] if len(found) >= count else None

        result: list[dict[str, Any]] = await eventually(probe)
        return result

    async def mailbox_entry(self, phone: str, wa_id: str) -> dict[str, Any]:
        entries = [e for e in await self.gw.net.mailbox(phone) if e["id"] == wa_id]
        assert entries, f"{wa_id} not in the mailbox of {phone}"
        return entries[0]
