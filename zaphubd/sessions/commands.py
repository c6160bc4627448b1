"""What the API asks of sessions: each command writes the row first, then enqueues the work.

A command that cannot enqueue (Redis down) undoes its row change and raises
DependencyUnavailable, so the client gets a 503 and nothing is acknowledged and then lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from zaphubd.db.message_batches import CANNOT_SEND
from zaphubd.db.sessions import SessionRepo, SessionRow
from zaphubd.errors import CapacityReached, DependencyUnavailable, NotFound, SessionNotReady
from zaphubd.queue import keys
from zaphubd.queue.producer import Publisher
from zaphubd.sessions.manager import SessionManager
from zaphubd.sessions.transitions import Transitions

#: Called with a session id after its row changed through these commands (cache invalidation).
ChangeHook = Callable[[uuid.UUID], None]
#: Sessions the live nodes can hold together.
Capacity = Callable[[], Awaitable[int]]
#: Vets a webhook URL before it is stored; raises an ApiError (a 400) to refuse it.
UrlCheck = Callable[[str], Awaitable[None]]


def require_visible(row: SessionRow | None, session_id: uuid.UUID) -> SessionRow:
    """The session as the API sees it: one whose deletion was accepted is gone already."""
    if row is None or row.stopped:
        raise NotFound(f"session {session_id} not found")
    return row


def require_sendable(row: SessionRow) -> None:
    """409 for a session that cannot send now or later (failed, logged out)."""
    if row.status in CANNOT_SEND:
        raise SessionNotReady(f"session is {row.status}; it cannot send (restart it first)")


class SessionCommands:
    def __init__(
        self,
        repo: SessionRepo,
        publisher: Publisher,
        transitions: Transitions,
        manager: SessionManager,
        capacity: Capacity | None = None,
    ) -> None:
        self._capacity = capacity
        self._repo = repo
        self._publisher = publisher
        self._transitions = transitions
        self._manager = manager
        self._change_hooks: list[ChangeHook] = []
        self._url_check: UrlCheck | None = None

    def on_change(self, hook: ChangeHook) -> None:
        """Call `hook(session_id)` after a session is updated or deleted."""
        self._change_hooks.append(hook)

    def check_webhook_urls_with(self, check: UrlCheck) -> None:
        """Vet every webhook_url set by create or update with `check` (the SSRF rules)."""
        self._url_check = check

    async def require(self, session_id: uuid.UUID) -> SessionRow:
        """The session, or 404 when it does not exist or its deletion was accepted."""
        return require_visible(await self._repo.get(session_id), session_id)

    async def create(
        self,
        label: str,
        webhook_url: str | None,
        webhook_secret: str | None,
        config: dict[str, Any],
    ) -> SessionRow:
        await self._check_webhook_url(webhook_url)
        session_id = uuid.uuid4()
        max_active = await self._capacity() if self._capacity else self._manager.max_sessions
        row = await self._repo.create_within_capacity(
            session_id, label.strip(), webhook_url, webhook_secret, config, max_active
        )
        if row is None:
            raise CapacityReached(
                f"session limit reached ({max_active}); delete a session, raise "
                "ZAPHUB_MAX_CONCURRENT_SESSIONS or add a node"
            )
        try:
            await self._enqueue_init(session_id, "start")
        except DependencyUnavailable:
            await self._repo.delete(session_id)
            raise
        await self._transitions.note(session_id, "session.initializing", {"reason": "created"})
        return row

    async def update(self, session_id: uuid.UUID, changes: dict[str, Any]) -> SessionRow:
        await self.require(session_id)
        await self._check_webhook_url(changes.get("webhook_url"))
        config = changes.pop("config", None)
        if config:
            await self._repo.merge_config(session_id, config)
        row = (
            await self._repo.update(session_id, **changes)
            if changes
            else await self._repo.get(session_id)
        )
        if row is None:
            raise NotFound(f"session {session_id} not found")
        self._manager.reload_config(session_id, row.config)
        self._changed(session_id)
        return row

    async def restart(self, session_id: uuid.UUID, *, keep_credentials: bool = False) -> SessionRow:
        """Enqueue a restart: a new QR cycle, or a reconnect with the same credentials."""
        row = await self.require(session_id)
        await self._enqueue_init(session_id, "reconnect" if keep_credentials else "restart")
        return row

    async def delete(self, session_id: uuid.UUID, *, force: bool = False) -> None:
        """Mark the session stopped (recovery leaves it alone) and enqueue its deletion;
        `force`: delete it even if the logout cannot be confirmed."""
        row = await self.require(session_id)
        await self._repo.update(session_id, stopped=True)
        try:
            await self._publisher.publish(
                keys.SESSION_CLOSE,
                {"session_id": str(session_id), "force": force},
                job_id=f"close-{session_id}",
            )
        except DependencyUnavailable:
            await self._repo.update(session_id, stopped=row.stopped)
            raise
        finally:
            self._changed(session_id)

    async def _check_webhook_url(self, url: str | None) -> None:
        if url is not None and self._url_check is not None:
            await self._url_check(url)

    def _changed(self, session_id: uuid.UUID) -> None:
        for hook in self._change_hooks:
            hook(session_id)

    async def _enqueue_init(self, session_id: uuid.UUID, action: str) -> None:
        await self._publisher.publish(
            keys.SESSION_INIT,
            {"session_id": str(session_id), "action": action},
            job_id=f"{action}-{session_id}",
        )
