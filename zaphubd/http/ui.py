"""The dashboard at /ui: static files only (zaphubd/http/ui/), every action through the
public REST API with the key the user enters (see docs/dashboard.md).

The page holds no data of its own, so it is public like the API docs; what it shows needs
the key. A strict Content-Security-Policy allows only this origin's scripts, styles and
connections (images also from blob:, the QR code), so injected markup could run nothing,
and the page cannot be framed.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

UI_PATH = "/ui"
STATIC_DIR = Path(__file__).parent / "ui"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def _page(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers=SECURITY_HEADERS)


async def _root(_: web.Request) -> web.Response:
    raise web.HTTPFound(UI_PATH)


async def _static(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = STATIC_DIR / name
    # Names are fixed file names of this folder: no path can climb out of it.
    if "/" in name or name.startswith(".") or not path.is_file() or name == "index.html":
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers=SECURITY_HEADERS)


def setup(app: web.Application) -> None:
    app.router.add_get(UI_PATH, _page, allow_head=False)
    app.router.add_get(UI_PATH + "/", _root, allow_head=False)
    app.router.add_get(UI_PATH + "/static/{name}", _static, allow_head=False)
