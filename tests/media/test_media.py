"""Media download through the guard against a real local server; base64; type checks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
from PIL import Image

from zaphubd.media import (
    MediaError,
    MediaFile,
    check_kind,
    data_url_mime_type,
    decode_base64,
    download,
)
from zaphubd.netguard import guarded_session

MAX_BYTES = 64 * 1024
STREAM_CHUNK = b"x" * 16 * 1024
STREAM_TOTAL = 256 * 1024 * 1024  # far beyond what socket buffers can absorb
FAKE_HOST = "media.example.test"


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


def webp_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(out, "WEBP")
    return out.getvalue()


PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def mp4_bytes() -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
    return ftyp + struct.pack(">I", 8) + b"free"


def ogg_opus_bytes() -> bytes:
    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", 312, 48000, 0, 0)
    page_header = b"OggS" + bytes([0, 2]) + struct.pack("<qIII", 0, 1, 0, 0)
    return page_header + bytes([1, len(head)]) + head


# --- the local media server -------------------------------------------------------------


@dataclass
class StreamState:
    sent: int = 0
    completed: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class MediaServer:
    server: TestServer
    stream: StreamState
    release: asyncio.Event

    @property
    def port(self) -> int:
        port = self.server.port
        assert port is not None
        return port

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def build_app(state: StreamState, release: asyncio.Event) -> web.Application:
    png = png_bytes()

    async def file(request: web.Request) -> web.Response:
        return web.Response(body=png, content_type="image/png")

    async def named(request: web.Request) -> web.Response:
        disposition = 'attachment; filename="../../etc/report.pdf"'
        headers = {"Content-Disposition": disposition}
        return web.Response(body=PDF, content_type="application/pdf", headers=headers)

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="no")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (MAX_BYTES + 1), content_type="image/png")

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            while state.sent < STREAM_TOTAL:
                await response.write(STREAM_CHUNK)
                state.sent += len(STREAM_CHUNK)
            state.completed = True
        except ConnectionError:
            pass
        finally:
            state.done.set()
        return response

    async def slow_headers(request: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), 10)
        return web.Response(body=png)

    async def slow_body(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(png[:10])
        await asyncio.wait_for(release.wait(), 10)
        return response

    async def hop(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        location = f"/hop/{left - 1}" if left > 0 else "/file.png"
        return web.Response(status=302, headers={"Location": location})

    async def to_literal(request: web.Request) -> web.Response:
        location = f"http://127.0.0.1:{request.url.port}/file.png"
        return web.Response(status=302, headers={"Location": location})

    app = web.Application()
    app.router.add_get("/file.png", file)
    app.router.add_get("/download", named)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/big", big)
    app.router.add_get("/stream", stream)
    app.router.add_get("/slow-headers", slow_headers)
    app.router.add_get("/slow-body", slow_body)
    app.router.add_get("/hop/{n}", hop)
    app.router.add_get("/to-literal", to_literal)
    return app


@pytest.fixture
async def media_server() -> AsyncIterator[MediaServer]:
    state, release = StreamState(), asyncio.Event()
    server = TestServer(build_app(state, release), host="127.0.0.1")
    await server.start_server()
    yield MediaServer(server, state, release)
    release.set()
    await server.close()


class StaticLookup(AbstractResolver):
    """DNS stand-in: FAKE_HOST → 127.0.0.1, so a name reaches the local server."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != FAKE_HOST:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} not in the test table")
        flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=flags,
            )
        ]

    async def close(self) -> None:
        pass


SessionFactory = Callable[[bool], Awaitable[aiohttp.ClientSession]]


@pytest.fixture
async def make_session() -> AsyncIterator[SessionFactory]:
    sessions: list[aiohttp.ClientSession] = []

    async def make(allow_private: bool) -> aiohttp.ClientSession:
        session = guarded_session(
            allow_private=allow_private,
            timeout=aiohttp.ClientTimeout(total=10),
            limit=10,
            limit_per_host=5,
            user_agent="zaphubd-test",
            lookup=StaticLookup(),
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.close()


async def fetch(
    session: aiohttp.ClientSession, url: str, *, allow_private: bool, timeout_s: float = 5
) -> MediaFile:
    return await download(
        session, url, max_bytes=MAX_BYTES, timeout_s=timeout_s, allow_private=allow_private
    )


# --- refused when private addresses are not allowed -------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "2130706433",
        "0x7f000001",
        "017700000001",
        "127.1",
        "[::ffff:127.0.0.1]",
        FAKE_HOST,  # a name that resolves to 127.0.0.1: refused by the resolver
    ],
)
async def test_local_server_refused_without_allow_private(
    media_server: MediaServer, make_session: SessionFactory, host: str
) -> None:
    session = await make_session(False)
    with pytest.raises(MediaError, match="media URL refused") as caught:
        await fetch(session, media_server.url("/file.png", host), allow_private=False)
    assert caught.value.permanent
    assert "ZAPHUB_MEDIA_ALLOW_PRIVATE" in caught.value.message


async def test_redirect_from_allowed_name_to_private_literal_refused(
    media_server: MediaServer, make_session: SessionFactory
) -> None:
    # The session's resolver lets FAKE_HOST reach the local server (standing in for a public
    # host we cannot have offline); the call itself forbids private addresses, so only the
    # per-hop check of the Location can stop the redirect to 127.0.0.1.
    session = await make_session(True)
    url = media_server.url("/to-literal", FAKE_HOST)
    with pytest.raises(MediaError, match=r"127\.0\.0\.1 is a forbidden address \(loopback\)"):
        await fetch(session, url, allow_private=False)
    # The same redirect is followed when private addresses are allowed.
    assert (await fetch(session, url, allow_private=True)).data == png_bytes()


# --- allowed: downloads and their failures ----------------------------------------------


async def test_download_works(media_server: MediaServer, make_session: SessionFactory) -> None:
    session = await make_session(True)
    media = await fetch(session, media_server.url("/file.png"), allow_private=True)
    assert media.data == png_bytes()
    assert media.mime_type == "image/png"
    assert media.file_name == "file.png"
    assert "size=" in repr(media) and "\\x" not in repr(media)


async def test_download_through_injected_name(
    media_server: MediaServer, make_session: SessionFactory
) -> None:
    session = await make_session(True)
    media = await fetch(session, media_server.url("/file.png", FAKE_HOST), allow_private=True)
    assert media.data == png_bytes()


async def test_file_name_from_content_disposition(
    media_server: MediaServer, make_session: SessionFactory
) -> None:
    session = await make_session(True)
    media = await fetch(session, media_server.url("/download"), allow_private=True)
    assert (media.file_name, media.mime_type) == ("report.pdf", "application/pdf")


@pytest.mark.parametrize(
    ("code", "permanent"), [(404, True), (403, True), (429, False), (500, False), (503, False)]
)
async def test_http_errors(
    media_server: MediaServer, make_session: SessionFactory, code: int, permanent: bool
) -> None:
    session = await make_session(True)
    with pytest.raises(MediaError, match=f"HTTP {code}") as caught:
        await fetch(session, media_server.url(f"/status/{code}"), allow_private=True)
    assert caught.value.permanent is permanent


async def test_too_large_by_content_length(
    media_server: MediaServer, make_session: SessionFactory
) -> None:
    session = await make_session(True)
    with pytest.raises(MediaError, match="bytes announced") as caught:
        await fetch(session, media_server.url("/big"), allow_private=True)
    assert caught.value.permanent


async def test_too_large_chunked_stops_streaming(
    media_server: MediaServer, make_session: SessionFactory
) -> None:
    session = await make_session(True)
    with pytest.raises(MediaError, match="body kept coming") as caught:
        await fetch(session, media_server.url("/stream"), allow_private=True)
    assert caught.value.permanent
    # The server sees the connection drop long before it could send everything.
    stream = media_server.stream
    await asyncio.wait_for(stream.done.wait(), 5)
    assert not stream.completed
    assert stream.sent < STREAM_TOTAL // 4  # what got through is kernel socket buffers


@pytest.mark.parametrize("path", ["/slow-headers", "/slow-body"])
async def test_slow_server_times_out_transiently(
    media_server: MediaServer, make_session: SessionFactory, path: str
) -> None:
    session = await make_session(True)
    with pytest.raises(MediaError, match=r"timed out after 0\.3 s") as caught:
        await fetch(session, media_server.url(path), allow_private=True, timeout_s=0.3)
    assert not caught.value.permanent


async def test_connection_refused_is_transient(make_session: SessionFactory) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    session = await make_session(True)
    with pytest.raises(MediaError, match="download failed") as caught:
        await fetch(session, f"http://127.0.0.1:{port}/x", allow_private=True)
    assert not caught.value.permanent


async def test_redirect_chain_of_five_followed_sixth_refused(
    media_server: MediaServer, make_session: SessionFactory
) -> None:
    session = await make_session(True)
    media = await fetch(session, media_server.url("/hop/4"), allow_private=True)
    assert media.data == png_bytes()
    assert media.file_name == "file.png"  # named after the final URL
    with pytest.raises(MediaError, match="too many redirects") as caught:
        await fetch(session, media_server.url("/hop/5"), allow_private=True)
    assert caught.value.permanent


# --- base64 ------------------------------------------------------------------------------


def test_decode_base64_plain_and_data_url() -> None:
    png = png_bytes()
    encoded = base64.b64encode(png).decode()
    assert decode_base64(encoded, max_bytes=MAX_BYTES) == png
    assert decode_base64(f"data:image/png;base64,{encoded}", max_bytes=MAX_BYTES) == png
    assert decode_base64(f"DATA:image/png;name=a.png;BASE64,{encoded}", max_bytes=MAX_BYTES) == png
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    assert decode_base64(wrapped, max_bytes=MAX_BYTES) == png


@pytest.mark.parametrize(
    "data",
    [
        "aGVsbG8*",
        "aGVsbG8",
        "aGVs bG8=!",
        "aGVsbG8_",
        "data:text/plain,hello",
        "data:image/png,AAAA",
        "é",
    ],
)
def test_decode_base64_invalid(data: str) -> None:
    with pytest.raises(MediaError) as caught:
        decode_base64(data, max_bytes=MAX_BYTES)
    assert caught.value.permanent


def test_decode_base64_exact_limit() -> None:
    assert len(decode_base64(base64.b64encode(b"a" * 1024).decode(), max_bytes=1024)) == 1024
    with pytest.raises(MediaError, match="1024-byte limit"):
        decode_base64(base64.b64encode(b"a" * 1025).decode(), max_bytes=1024)


def test_decode_base64_oversize_refused_before_decoding() -> None:
    # Invalid characters past the size cut-off: a decode would report them, the size check
    # must come first.
    with pytest.raises(MediaError, match="limit") as caught:
        decode_base64("QUFB" * 1000 + "*" * 4, max_bytes=100)
    assert caught.value.permanent


# --- check_kind ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "make", "declared", "expected"),
    [
        ("image", png_bytes, None, "image/png"),
        ("image", png_bytes, "image/jpg", "image/png"),
        ("image", webp_bytes, "image/webp", "image/webp"),
        ("sticker", webp_bytes, None, "image/webp"),
        ("video", mp4_bytes, None, "video/mp4"),
        ("audio", ogg_opus_bytes, "audio/ogg; codecs=opus", "audio/ogg; codecs=opus"),
        ("audio", ogg_opus_bytes, None, "audio/ogg"),
        ("document", lambda: PDF, None, "application/pdf"),
        ("document", lambda: PDF, "application/x-custom", "application/x-custom"),
        ("document", png_bytes, None, "image/png"),
    ],
)
def test_check_kind_accepts(
    kind: str, make: Callable[[], bytes], declared: str | None, expected: str
) -> None:
    assert check_kind(kind, make(), declared, None) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "make", "message"),
    [
        ("image", lambda: PDF, "image: the file is application/pdf, not an image"),
        ("image", mp4_bytes, "image: the file is video/mp4, not an image"),
        ("sticker", png_bytes, "sticker: the file is image/png, not a WebP image"),
        ("video", png_bytes, "video: the file is image/png, not a video"),
        ("audio", mp4_bytes, "audio: the file is video/mp4, not an audio file"),
        ("audio", lambda: PDF, "audio: the file is application/pdf, not an audio file"),
        ("document", lambda: b"", "document: the file is empty"),
    ],
)
def test_check_kind_mismatch(kind: str, make: Callable[[], bytes], message: str) -> None:
    with pytest.raises(MediaError) as caught:
        check_kind(kind, make(), "image/png", "image/png")  # type: ignore[arg-type]
    assert caught.value.permanent
    assert caught.value.message.startswith(message)


def test_data_url_mime_type() -> None:
    assert data_url_mime_type("data:Image/PNG;base64,AAAA") == "image/png"
    assert data_url_mime_type("data:;base64,AAAA") is None
    assert data_url_mime_type("AAAA") is None


def test_check_kind_document_falls_back_to_header_for_unknown_bytes() -> None:
    blob = b"".join(hashlib.sha256(bytes([i])).digest() for i in range(64))  # no signature
    assert check_kind("document", blob, None, "application/x-thing") == "application/x-thing"
    assert check_kind("document", blob, None, None) == "application/octet-stream"
