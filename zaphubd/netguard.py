"""The SSRF guard every outbound HTTP fetch of zaphubd goes through (media URLs, webhooks).

Three layers, because each one sees something the others cannot:

- `check_url` vets the URL itself: scheme, credentials, port, IP literals (aiohttp never
  resolves those) and host names that are local by definition.
- `GuardedResolver` vets every address a host name resolves to. aiohttp connects to exactly
  the addresses the resolver returned, so nothing can change between the check and the
  connect (no second DNS lookup, no rebinding window).
- `request_following_redirects` follows redirects itself and runs `check_url` on every hop.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from zaphubd.errors import ZaphubError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ALLOWED_SCHEMES = frozenset({"http", "https"})
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
LOCAL_SUFFIXES = (".localhost", ".local", ".internal")
# Headers that must not follow a redirect to another origin (the same rule browsers apply).
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})

# Ranges the stdlib flags miss or that deserve a more telling name. Checked first, in order.
_NAMED_NETWORKS: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("169.254.169.254/32"), "cloud metadata"),
    (ipaddress.ip_network("fd00:ec2::254/128"), "cloud metadata"),
    (ipaddress.ip_network("100.64.0.0/10"), "carrier-grade NAT"),
    (ipaddress.ip_network("192.0.0.0/24"), "IETF protocol assignment"),
    (ipaddress.ip_network("fec0::/10"), "site-local"),
    # Local-use NAT64 (RFC 8215): the embedded IPv4 sits at a prefix-dependent offset.
    (ipaddress.ip_network("64:ff9b:1::/48"), "local-use NAT64"),
)
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class UrlRefused(ZaphubError):
    """A URL the guard will not fetch; the message says why, fit for an operator."""


class ForbiddenAddress(UrlRefused, OSError):
    """A host that is, or resolves to, a forbidden address.

    An OSError so that aiohttp's connector wraps it (in ClientConnectorDNSError) like any
    resolution failure; `request_following_redirects` unwraps it again.
    """


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why `ip` must not be fetched from ("loopback", "private", ...), or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = forbidden_reason(embedded)
            if inner is not None:
                return f"{inner}, embedded {embedded}"
            if ip.ipv4_mapped is not None or ip in _NAT64_WELL_KNOWN:
                # These reach exactly that IPv4 host (NAT64: on IPv6-only hosts with DNS64,
                # every public v4 host looks like this); the stdlib calls both prefixes
                # reserved, which would refuse every public v4 host.
                return None
    return _own_reason(ip)


def is_forbidden_address(ip: IPAddress) -> bool:
    """True for loopback, private, link-local, metadata, CGNAT, multicast, reserved and
    unspecified addresses, including IPv6 forms that embed a forbidden IPv4."""
    return forbidden_reason(ip) is not None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64_WELL_KNOWN or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _own_reason(ip: IPAddress) -> str | None:
    for network, name in _NAMED_NETWORKS:
        if ip.version == network.version and ip in network:
            return name
    # Ordered from the most to the least telling name; the stdlib of 3.11 counts multicast
    # and fec0::/10 as global, hence the explicit checks before `is_global`.
    flags = (
        (ip.is_loopback, "loopback"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "non-global"),
    )
    return next((name for flagged, name in flags if flagged), None)


def _literal_address(host: str) -> IPAddress | None:
    """The address a host denotes without DNS: an IP literal or a legacy IPv4 form."""
    host = host.removesuffix(".")  # "127.0.0.1." is still 127.0.0.1 to aiohttp's checks
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        # getaddrinfo reads "2130706433", "0x7f000001", "017700000001" and "127.1" as
        # 127.0.0.1 through inet_aton; read them the same way rather than trust DNS to.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def is_local_name(host: str) -> bool:
    """True for names that mean this machine or its local network by definition."""
    name = host.rstrip(".").lower()
    return name in LOCAL_NAMES or name.endswith(LOCAL_SUFFIXES)


def check_url(url: str | URL, *, allow_private: bool) -> URL:
    """The parsed URL if it may be fetched; raise UrlRefused (ForbiddenAddress) if not.

    With `allow_private` the address checks are skipped; scheme, host, credentials and port
    are checked always.
    """
    parsed = _parse(url)
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise UrlRefused(f"URL scheme {parsed.scheme!r} is not allowed (only http and https)")
    if not parsed.raw_host:
        raise UrlRefused("URL has no host")
    if "@" in (parsed.raw_authority or ""):
        raise UrlRefused("URLs with credentials (user:password@) are not allowed")
    if parsed.explicit_port is not None and not 1 <= parsed.explicit_port <= 65535:
        raise UrlRefused(f"URL port {parsed.explicit_port} is out of range")
    if not allow_private:
        _check_host(parsed)
    return parsed


def _parse(url: str | URL) -> URL:
    if isinstance(url, URL):
        return url
    try:
        return URL(url)
    except (ValueError, TypeError) as err:
        raise UrlRefused(f"invalid URL: {err}") from err


def _check_host(url: URL) -> None:
    host = url.host or ""
    address = _literal_address(host)
    if address is not None:
        reason = forbidden_reason(address)
        if reason is not None:
            raise ForbiddenAddress(f"URL host {host} is a forbidden address ({reason})")
    elif is_local_name(url.raw_host or ""):
        raise ForbiddenAddress(f"URL host {url.raw_host} is a local host name")


class GuardedResolver(AbstractResolver):
    """Resolves with `lookup` (default: aiohttp's ThreadedResolver, i.e. getaddrinfo) and
    refuses a host if ANY of its addresses is forbidden.

    Refusing on a single bad answer (rather than filtering it out) defeats DNS-rebinding
    tricks that mix public and private records. `lookup` is the seam for tests that need
    a host name to resolve somewhere particular.
    """

    def __init__(self, lookup: AbstractResolver | None = None) -> None:
        self._lookup = lookup if lookup is not None else aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._lookup.resolve(host, port, family)
        for result in results:
            _check_resolved(host, result["host"])
        return results

    async def close(self) -> None:
        await self._lookup.close()


def _check_resolved(host: str, resolved: str) -> None:
    try:
        address = ipaddress.ip_address(resolved)
    except ValueError:
        # aiohttp connects with AI_NUMERICHOST; anything unparsable is refused, not guessed.
        raise ForbiddenAddress(f"{host} resolved to an unusable address {resolved!r}") from None
    reason = forbidden_reason(address)
    if reason is not None:
        raise ForbiddenAddress(f"{host} resolves to a forbidden address ({resolved}: {reason})")


def guarded_session(
    *,
    allow_private: bool,
    timeout: aiohttp.ClientTimeout,
    limit: int,
    limit_per_host: int,
    user_agent: str,
    lookup: AbstractResolver | None = None,
) -> aiohttp.ClientSession:
    """A ClientSession whose connections only reach addresses the guard allows.

    Create one per purpose (media, webhooks) inside the running loop and close it at exit.
    `lookup` replaces the DNS lookup underneath (tests only). Requests should go through
    `request_following_redirects`, which checks IP literals and every redirect hop.
    """
    resolver = lookup if allow_private else GuardedResolver(lookup)
    connector = aiohttp.TCPConnector(resolver=resolver, limit=limit, limit_per_host=limit_per_host)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        headers={"User-Agent": user_agent},
        # An HTTP(S)_PROXY from the environment would resolve targets on the proxy's side,
        # out of the guard's sight; cookies must not leak between unrelated fetches.
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
    )


async def request_following_redirects(
    session: aiohttp.ClientSession,
    method: str,
    url: str | URL,
    *,
    max_redirects: int = 5,
    allow_private: bool,
    **kwargs: Any,
) -> aiohttp.ClientResponse:
    """Send a request, following up to `max_redirects` redirects, each one vetted.

    Every hop (the first included) passes `check_url`; https→http downgrades are refused;
    303 (and 301/302 after a POST) become a bodiless GET, as browsers do; credential headers
    are dropped when the origin changes. Raises UrlRefused (ForbiddenAddress when an address
    is the problem); the caller owns the returned response and must release it.
    """
    current = check_url(url, allow_private=allow_private)
    for _hop in range(max_redirects + 1):
        response = await _send(session, method, current, kwargs)
        location = response.headers.get(aiohttp.hdrs.LOCATION)
        if response.status not in REDIRECT_STATUSES or location is None:
            return response
        response.release()
        target = resolve_redirect(current, location, allow_private=allow_private)
        method, kwargs = _redirected_request(response.status, method, kwargs, current, target)
        current = target
    raise UrlRefused(f"too many redirects (more than {max_redirects})")


async def _send(
    session: aiohttp.ClientSession, method: str, url: URL, kwargs: dict[str, Any]
) -> aiohttp.ClientResponse:
    try:
        return await session.request(method, url, allow_redirects=False, **kwargs)
    except aiohttp.ClientConnectorError as err:
        if isinstance(err.os_error, ForbiddenAddress):
            raise ForbiddenAddress(str(err.os_error)) from err
        raise


def resolve_redirect(previous: URL, location: str, *, allow_private: bool) -> URL:
    """The URL a Location header points to, resolved against `previous` and vetted."""
    try:
        target = previous.join(URL(location))
    except (ValueError, TypeError) as err:
        raise UrlRefused(f"redirect to an invalid URL: {err}") from err
    if previous.scheme == "https" and target.scheme == "http":
        raise UrlRefused(f"redirect from https to http refused ({target.host})")
    return check_url(target, allow_private=allow_private)


def _redirected_request(
    status: int, method: str, kwargs: dict[str, Any], previous: URL, target: URL
) -> tuple[str, dict[str, Any]]:
    new_kwargs = dict(kwargs)
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
        for body in ("data", "json"):
            new_kwargs.pop(body, None)
    if previous.origin() != target.origin() and "headers" in new_kwargs:
        new_kwargs["headers"] = {
            name: value
            for name, value in dict(new_kwargs["headers"]).items()
            if name.lower() not in CREDENTIAL_HEADERS
        }
    return method, new_kwargs
