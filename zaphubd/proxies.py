"""A session's `config.proxy`: what is accepted, and how it is shown.

http, https and socks5 proxies, with optional credentials; the URL names a host and a port
and nothing else (no path, query or fragment). Its password is never shown back, in a
response or a log line: `masked` replaces it with `***`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

SCHEMES = ("http", "https", "socks5")
MASK = "***"
#: A proxy's answer that it works but could not reach the target: SOCKS5 replies 1 (general
#: failure, what many servers say for a failed dial) and 3-6 (network or host unreachable,
#: refused, TTL expired); HTTP CONNECT's 502-504. Anything else (credentials refused, rule
#: set, unsupported command) is the proxy's own refusal, which no retry can change.
TARGET_UNREACHABLE_CODES = frozenset({1, 3, 4, 5, 6, 502, 503, 504})


class BadProxy(ValueError):
    """Not a proxy URL zaphubd can use; the message says what is wrong."""


def check(url: str) -> str:
    """`url` if it is a usable proxy URL; BadProxy otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise BadProxy(f"not a valid URL: {err}") from None
    if parts.scheme not in SCHEMES:
        raise BadProxy(f"the scheme must be one of {', '.join(SCHEMES)}")
    if not parts.hostname:
        raise BadProxy("a host is required")
    if port is None:
        raise BadProxy("a port is required")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadProxy("only scheme, credentials, host and port are allowed")
    if parts.password == MASK:
        raise BadProxy("the password is the masked one; send the real password")
    return url


def target_unreachable(reply_code: int | None) -> bool:
    """True when a proxy's reply code says the target, not the proxy, failed."""
    return reply_code in TARGET_UNREACHABLE_CODES


def masked(url: str | None) -> str | None:
    """The URL with its password replaced by `***` (None stays None)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}:{MASK}@{host}").geturl()


def without_credentials(url: str) -> str:
    """Scheme, host and port only: what a log line or an error message may name."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
