"""One signed webhook POST, and what came of it.

All attempts share one guarded ClientSession (pooled keep-alive connections). Redirects are
not followed: a webhook receiver that redirects is misconfigured, and following would let a
public URL point the daemon at a private one. A URL the SSRF guard refuses is a permanent
failure, as is 410 Gone (the receiver asks us to stop).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from zaphubd.jsonutil import dumps
from zaphubd.netguard import ForbiddenAddress, UrlRefused, check_url, guarded_session
from zaphubd.webhooks.signing import USER_AGENT, request_headers

#: Bytes of a response body read at most: enough to show a receiver's error, and small bodies
#: are read to the end so their connection goes back to the pool.
READ_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    latency_ms: int
    #: None when the receiver answered 2xx.
    error: str | None = None
    #: Retrying cannot help: 410 Gone, or a URL the guard refuses.
    permanent: bool = False
    #: The start of the response body (decoded leniently), for the test endpoint.
    response_head: str = ""
    #: When the attempt started (the request was about to be sent), UTC.
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return self.error is None


def open_http(*, allow_private: bool, timeout_s: float, per_host: int) -> aiohttp.ClientSession:
    """The shared session; its pool allows `per_host` connections to one host at most."""
    return guarded_session(
        allow_private=allow_private,
        # `total` covers connecting, sending and reading the answer: the attempt's deadline.
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        limit=0,
        limit_per_host=per_host,
        user_agent=USER_AGENT,
    )


class WebhookSender:
    def __init__(self, http: aiohttp.ClientSession, *, timeout_s: float, allow_private: bool):
        self._http = http
        self.timeout_s = timeout_s
        self._allow_private = allow_private

    async def post(self, url: str, envelope: dict[str, Any], secret: str | None) -> AttemptResult:
        """POST `envelope` to `url`, signed with `secret` when there is one."""
        body = dumps(envelope)  # the exact bytes sent and signed
        headers = request_headers(
            event=envelope["event"],
            session_id=envelope["sessionId"],
            delivery_id=envelope["deliveryId"],
            body=body,
            secret=secret,
            timestamp=int(time.time()),
        )
        started_at, started = datetime.now(UTC), time.perf_counter()
        try:
            status, location, head = await self._exchange(url, body, headers)
        except Exception as err:
            result = _failure(err, _elapsed_ms(started), self.timeout_s)
        else:
            result = _judge(status, location, head, _elapsed_ms(started))
        return dataclasses.replace(result, started_at=started_at)

    async def _exchange(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None, str]:
        target = check_url(url, allow_private=self._allow_private)
        async with self._http.post(
            target, data=body, headers=headers, allow_redirects=False
        ) as resp:
            head = await _read_head(resp)
            return resp.status, resp.headers.get(aiohttp.hdrs.LOCATION), head


async def _read_head(resp: aiohttp.ClientResponse) -> str:
    chunks: list[bytes] = []
    size = 0
    while size < READ_LIMIT:
        chunk = await resp.content.read(READ_LIMIT - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _judge(status: int, location: str | None, head: str, latency_ms: int) -> AttemptResult:
    if 200 <= status < 300:
        return AttemptResult(status, latency_ms, response_head=head)
    if status == 410:
        error = "HTTP 410 Gone: the receiver asked not to be called again"
        return AttemptResult(status, latency_ms, error, permanent=True, response_head=head)
    if 300 <= status < 400:
        error = f"HTTP {status}: redirects are not followed" + (
            " (Location set)" if location else ""
        )
        return AttemptResult(status, latency_ms, error, response_head=head)
    return AttemptResult(status, latency_ms, f"HTTP {status}", response_head=head)


def _failure(err: Exception, latency_ms: int, timeout_s: float) -> AttemptResult:
    if isinstance(err, UrlRefused):
        return AttemptResult(None, latency_ms, f"refused: {err}", permanent=True)
    if isinstance(err, aiohttp.ClientConnectorError) and isinstance(err.os_error, ForbiddenAddress):
        return AttemptResult(None, latency_ms, f"refused: {err.os_error}", permanent=True)
    if isinstance(err, TimeoutError):
        return AttemptResult(None, latency_ms, f"timed out after {round(timeout_s * 1000)} ms")
    if isinstance(err, aiohttp.ClientError | OSError):
        detail = str(err) or type(err).__name__
        return AttemptResult(None, latency_ms, f"network error: {detail}")
    raise err


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
