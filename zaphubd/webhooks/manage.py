"""What the /sessions/:id/webhooks routes ask: list, add, change and remove a webhook.

The HTTP layer checks that the session exists (404) and validates bodies; these commands vet
URLs with the same SSRF rules as webhook_url, keep the per-session cap, and invalidate the
delivery targets' cache so a change applies to the next event.
"""

from __future__ import annotations

import uuid
from typing import Any

from zaphubd.db.webhook_targets import WebhookRow, WebhookTargetRepo
from zaphubd.errors import Conflict, NotFound
from zaphubd.webhooks.targets import Targets
from zaphubd.webhooks.urlpolicy import WebhookUrlPolicy


class SessionWebhookCommands:
    def __init__(
        self, repo: WebhookTargetRepo, policy: WebhookUrlPolicy, targets: Targets, cap: int
    ) -> None:
        self._repo = repo
        self._policy = policy
        self._targets = targets
        self.cap = cap

    async def list(self, session_id: uuid.UUID) -> list[WebhookRow]:
        """The first webhook (the session's webhook_url, when set), then the others."""
        hooks = await self._repo.load(session_id)
        if hooks is None:
            raise NotFound(f"session {session_id} not found")
        return hooks.listed()

    async def get(self, session_id: uuid.UUID, webhook_id: uuid.UUID) -> WebhookRow:
        found = next((w for w in await self.list(session_id) if w.id == webhook_id), None)
        if found is None:
            raise _missing(webhook_id)
        return found

    async def add(self, session_id: uuid.UUID, values: dict[str, Any]) -> WebhookRow:
        await self._policy.check(values["url"], "url")
        row = await self._repo.add(session_id, values, self.cap)
        if row is None:
            raise Conflict(
                f"this session has {self.cap} webhooks besides its webhook_url already "
                "(ZAPHUB_WEBHOOKS_PER_SESSION); delete one first"
            )
        self._targets.invalidate(session_id)
        return row

    async def change(
        self, session_id: uuid.UUID, webhook_id: uuid.UUID, values: dict[str, Any]
    ) -> WebhookRow:
        if values.get("url") is not None:
            await self._policy.check(values["url"], "url")
        row = await self._repo.change(session_id, webhook_id, values)
        if row is None:
            raise _missing(webhook_id)
        self._targets.invalidate(session_id)
        return row

    async def remove(self, session_id: uuid.UUID, webhook_id: uuid.UUID) -> None:
        if not await self._repo.remove(session_id, webhook_id):
            raise _missing(webhook_id)
        self._targets.invalidate(session_id)


def _missing(webhook_id: uuid.UUID) -> NotFound:
    return NotFound(f"webhook {webhook_id} not found in this session")
