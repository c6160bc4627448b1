"""The SSRF guard: address table, URL checks, the resolver, and redirect handling."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
from yarl import URL

from zaphubd.netguard import (
    ForbiddenAddress,
    GuardedResolver,
    UrlRefused,
    check_url,
    guarded_session,
    is_forbidden_address,
    request_following_redirects,
    resolve_redirect,
)

FORBIDDEN = [
    "127.0.0.1",
    "127.255.255.254",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "fc00::1",
    "fd12:3456::1",
    "169.254.1.1",
    "169.254.169.254",
    "fe80::1",
    "fe80::1%1",
    "fd00:ec2::254",
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "239.255.255.250",
    "ff02::1",
    "240.0.0.1",
    "255.255.255.255",
    "100.64.0.1",
    "100.127.255.254",
    "192.0.0.192",
    "fec0::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
    "::10.0.0.1",
    "2002:7f00:1::1",
    "2002:a9fe:a9fe::",
    "2002:c0a8:101::1",
    "64:ff9b::7f00:1",
    "64:ff9b::a00:1",
    "64:ff9b:1::808:808",
    "2001:db8::1",
    "2001::1",
]
ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_forbidden_addresses(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_allowed(address: str) -> None:
    assert not is_forbidden_address(ipaddress.ip_address(address))


REFUSED_URLS = [
    ("ftp://example.com/a", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://example.com/", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("http:///path", "no host"),
    ("http://user:pass@example.com/", "credentials"),
    ("http://user@example.com/", "credentials"),
    ("http://:pass@example.com/", "credentials"),
    ("http://example.com:0/", "port"),
    ("http://example.com:99999/", "invalid URL"),
    ("http://localhost/", "local host name"),
    ("http://LOCALHOST./", "local host name"),
    ("http://api.localhost/", "local host name"),
    ("http://localhost.localdomain/", "local host name"),
    ("http://ip6-localhost/", "local host name"),
    ("http://printer.local/", "local host name"),
    ("http://metadata.google.internal/", "local host name"),
    ("http://127.0.0.1/", "loopback"),
    ("http://127.0.0.1:8080/x", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://[::ffff:127.0.0.1]/", "loopback, embedded 127.0.0.1"),
    ("http://[::ffff:a9fe:a9fe]/", "cloud metadata, embedded 169.254.169.254"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://127.0.0.1./", "loopback"),
    ("http://0x7f.1./", "loopback"),
    ("http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", "local host name"),
    ("http://0/", "unspecified"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED_URLS)
def test_check_url_refuses(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused, match=reason):
        check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    ["https://example.com/a.png", "http://8.8.8.8:8080/x", "https://[2001:4860:4860::8888]/"],
)
def test_check_url_accepts_public(url: str) -> None:
    assert check_url(url, allow_private=False) == URL(url)


def test_check_url_allow_private_still_checks_the_url_itself() -> None:
    assert check_url("http://127.0.0.1:8080/a", allow_private=True).port == 8080
    assert check_url("http://localhost/a", allow_private=True).host == "localhost"
    for url in ("file:///etc/passwd", "http://u:p@127.0.0.1/", "http://127.0.0.1:0/"):
        with pytest.raises(UrlRefused):
            check_url(url, allow_private=True)


def test_address_refusals_are_forbidden_address_errors() -> None:
    with pytest.raises(ForbiddenAddress) as caught:
        check_url("http://10.0.0.1/", allow_private=False)
    assert isinstance(caught.value, OSError)
    assert str(caught.value) == "URL host 10.0.0.1 is a forbidden address (private)"


def test_redirect_downgrade_refused() -> None:
    with pytest.raises(UrlRefused, match="https to http"):
        resolve_redirect(URL("https://a.example/x"), "http://a.example/y", allow_private=True)


def test_redirect_resolved_against_previous_url() -> None:
    previous = URL("https://a.example/dir/x")
    assert resolve_redirect(previous, "y.png", allow_private=False) == URL(
        "https://a.example/dir/y.png"
    )
    assert resolve_redirect(previous, "//b.example/z", allow_private=False) == URL(
        "https://b.example/z"
    )
    for location in ("http://127.0.0.1/", "//10.0.0.1/", "file:///etc/passwd"):
        with pytest.raises(UrlRefused):
            resolve_redirect(previous, location, allow_private=False)


class StaticLookup(AbstractResolver):
    """DNS stand-in: a fixed name → addresses table."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} not in the test table")
        return [_result(host, address, port) for address in self.table[host]]

    async def close(self) -> None:
        self.closed = True


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
    return ResolveResult(
        hostname=host, host=address, port=port, family=family, proto=0, flags=flags
    )


async def test_resolver_passes_public_answers_through() -> None:
    lookup = StaticLookup({"cdn.example.test": ["93.184.216.34", "2606:4700::1"]})
    resolver = GuardedResolver(lookup)
    results = await resolver.resolve("cdn.example.test", 443, socket.AF_UNSPEC)
    assert [r["host"] for r in results] == ["93.184.216.34", "2606:4700::1"]
    await resolver.close()
    assert lookup.closed


@pytest.mark.parametrize(
    "answers",
    [["10.0.0.5"], ["93.184.216.34", "10.0.0.5"], ["2606:4700::1", "::ffff:127.0.0.1"]],
)
async def test_resolver_refuses_any_forbidden_answer(answers: list[str]) -> None:
    resolver = GuardedResolver(StaticLookup({"rebind.example.test": answers}))
    with pytest.raises(ForbiddenAddress, match=r"rebind\.example\.test resolves to a forbidden"):
        await resolver.resolve("rebind.example.test", 80, socket.AF_UNSPEC)


@pytest.mark.parametrize(
    "host", ["localhost", "2130706433", "0x7f000001", "017700000001", "127.1", "127.0.0.1"]
)
async def test_resolver_refuses_names_getaddrinfo_maps_to_loopback(host: str) -> None:
    # The real getaddrinfo: these all come back as 127.0.0.1 (or ::1).
    resolver = GuardedResolver()
    with pytest.raises(ForbiddenAddress, match="loopback"):
        await resolver.resolve(host, 80, socket.AF_INET)


# --- request_following_redirects against a real local server ---------------------------


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    async def redirect(request: web.Request) -> web.Response:
        status = int(request.match_info["status"])
        return _redirect(status, "/echo")

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen = {
            "method": request.method,
            "body": body.decode(),
            "authorization": request.headers.get("Authorization"),
        }
        return web.json_response(seen)

    async def to_other_origin(request: web.Request) -> web.Response:
        port = request.url.port
        return web.Response(status=302, headers={"Location": f"http://localhost:{port}/echo"})

    app = web.Application()
    app.router.add_route("*", "/redirect/{status}", redirect)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/other-origin", to_other_origin)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    yield test_server
    await test_server.close()


def _redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    http = guarded_session(
        allow_private=True,
        timeout=aiohttp.ClientTimeout(total=5),
        limit=10,
        limit_per_host=5,
        user_agent="zaphubd-test",
    )
    yield http
    await http.close()


@pytest.mark.parametrize(
    ("status", "method", "body"),
    [
        (303, "GET", ""),
        (302, "GET", ""),
        (301, "GET", ""),
        (307, "POST", "hi"),
        (308, "POST", "hi"),
    ],
)
async def test_redirect_method_rules(
    server: TestServer, session: aiohttp.ClientSession, status: int, method: str, body: str
) -> None:
    url = server.make_url(f"/redirect/{status}")
    response = await request_following_redirects(
        session, "POST", url, allow_private=True, data=b"hi"
    )
    async with response:
        assert await response.json() == {"method": method, "body": body, "authorization": None}


async def test_credentials_dropped_on_cross_origin_redirect(
    server: TestServer, session: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": "Bearer s3cret"}
    same = await request_following_redirects(
        session, "GET", server.make_url("/redirect/302"), allow_private=True, headers=headers
    )
    async with same:
        assert (await same.json())["authorization"] == "Bearer s3cret"
    other = await request_following_redirects(
        session, "GET", server.make_url("/other-origin"), allow_private=True, headers=headers
    )
    async with other:
        assert other.url.host == "localhost"
        assert (await other.json())["authorization"] is None


async def test_guarded_session_refuses_literal_and_reports_forbidden(
    server: TestServer,
) -> None:
    http = guarded_session(
        allow_private=False,
        timeout=aiohttp.ClientTimeout(total=5),
        limit=10,
        limit_per_host=5,
        user_agent="zaphubd-test",
        lookup=StaticLookup({"media.example.test": ["127.0.0.1"]}),
    )
    async with http:
        with pytest.raises(ForbiddenAddress, match="loopback"):
            await request_following_redirects(
                http, "GET", server.make_url("/echo"), allow_private=False
            )
        # A name: the literal check passes, the resolver refuses, and the error is unwrapped.
        port = server.port
        with pytest.raises(ForbiddenAddress, match=r"media\.example\.test resolves .*127\.0\.0\.1"):
            await request_following_redirects(
                http, "GET", f"http://media.example.test:{port}/echo", allow_private=False
            )
