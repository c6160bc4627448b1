"""A proxy that speaks SOCKS5 or HTTP CONNECT correctly and then refuses every connection
with one reply code, as a real proxy does when it cannot (or will not) reach the target.

pproxy cannot be made to do that: it resets the connection instead of replying. The codes
are what lets a client tell "the proxy is broken" from "the proxy works, the target is not
reachable through it".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

SOCKS_VERSION = 5
USER_PASSWORD = 2


@asynccontextmanager
async def replying_proxy(kind: str, code: int) -> AsyncIterator[str]:
    """A proxy on loopback answering every CONNECT with `code`; yields its URL."""
    handler = _socks if kind == "socks5" else _http

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer, code)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"{kind}://127.0.0.1:{port}"


async def _socks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, code: int) -> None:
    _version, count = await reader.readexactly(2)
    methods = await reader.readexactly(count)
    if USER_PASSWORD in methods:
        writer.write(bytes([SOCKS_VERSION, USER_PASSWORD]))
        _auth_version, user_len = await reader.readexactly(2)
        await reader.readexactly(user_len)
        (password_len,) = await reader.readexactly(1)
        await reader.readexactly(password_len)
        writer.write(b"\x01\x00")  # credentials accepted
    else:
        writer.write(bytes([SOCKS_VERSION, 0]))
    _version, _command, _reserved, address_type = await reader.readexactly(4)
    if address_type == 3:  # a host name
        (length,) = await reader.readexactly(1)
        await reader.readexactly(length + 2)
    else:
        await reader.readexactly((4 if address_type == 1 else 16) + 2)
    writer.write(bytes([SOCKS_VERSION, code, 0, 1, 0, 0, 0, 0, 0, 0]))
    await writer.drain()


async def _http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, code: int) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(f"HTTP/1.1 {code} Refused\r\nContent-Length: 0\r\n\r\n".encode())
    await writer.drain()
