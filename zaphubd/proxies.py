"""A session's `config.proxy`: what is accepted, and how it is shown.

http, https and socks5 proxies, with optional credentials; the URL names a host and a port
and nothing else (no path, query or fragment). Its password is never shown back, in a
response or a log line: `masked` replaces it with `***`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

SCHEMES = ("http", "https", "socks5")
MASK = "***"


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
