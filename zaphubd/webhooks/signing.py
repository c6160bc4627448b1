"""The headers of a webhook request, and its signature.

`X-ZapHub-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, where the
timestamp is `X-ZapHub-Timestamp` (unix seconds). Receivers recompute it over the exact bytes
they received and compare in constant time; the timestamp lets them refuse old replays.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

USER_AGENT = "ZapHub-Webhook/1.0"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` over `<timestamp>.<body>`."""
    mac = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def request_headers(
    *,
    event: str,
    session_id: uuid.UUID | str,
    delivery_id: str,
    body: bytes,
    secret: str | None,
    timestamp: int,
) -> dict[str, str]:
    """Every header of one attempt; the signature pair only when there is a secret."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-ZapHub-Event": event,
        "X-ZapHub-Session": str(session_id),
        "X-ZapHub-Delivery": delivery_id,
    }
    if secret:
        headers["X-ZapHub-Timestamp"] = str(timestamp)
        headers["X-ZapHub-Signature"] = signature(secret, timestamp, body)
    return headers
