"""docs/ is the users' contract: it must match the running code, and stand on its own.

Every route the app serves has its section in docs/api.md and every section names a real
route; every setting, metric and event type is documented; no link leaves the repository.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from zaphubd.event_types import CATALOGUE
from zaphubd.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
ROUTE_HEADING = re.compile(r"^### `([A-Z]+) (/\S*)`\s*$", re.MULTILINE)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
#: Served by the app but not API: the Swagger UI's own files.
NOT_ROUTES = ("/api/docs/static", "/ui/")

Api = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


def _text(name: str) -> str:
    return (DOCS / name).read_text()


def documented_routes() -> list[tuple[str, str]]:
    return [(m, p) for m, p in ROUTE_HEADING.findall(_text("api.md"))]


def served_routes(app: web.Application) -> set[tuple[str, str]]:
    served = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method in ("HEAD", "*") or path.startswith(NOT_ROUTES):
            continue
        served.add((route.method, path))
    return served


async def test_every_route_is_documented_once_and_every_documented_route_exists(
    api: Api,
) -> None:
    client = await api()
    spec = await (await client.get("/api/docs/openapi.json")).json()
    in_spec = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    served = served_routes(client.app)
    assert in_spec <= served  # the spec describes routes that exist
    documented = documented_routes()
    assert len(documented) == len(set(documented)), "a route has two sections in api.md"
    assert served - set(documented) == set(), "routes served but not in docs/api.md"
    assert set(documented) - served == set(), "routes in docs/api.md that do not exist"


def test_every_setting_is_documented() -> None:
    names = {ENV_PREFIX + field.upper() for field in Settings.model_fields}
    configuration = _text("configuration.md")
    example = (ROOT / "config" / "zaphubd.env.example").read_text()
    assert {n for n in names if n not in configuration} == set()
    assert {n for n in names if n not in example} == set()


async def test_every_metric_is_documented(api: Api) -> None:
    client = await api()
    text = await (await client.get("/metrics")).text()
    # `_created` families are the client library's timestamps of the counters, not ours.
    helped = re.findall(r"^# HELP (zaphubd_\w+)", text, re.MULTILINE)
    families = {f for f in helped if not f.endswith("_created")}
    assert families, "no zaphubd metric families in /metrics"
    operations = _text("operations.md")
    documented = set(re.findall(r"`(zaphubd_\w+)`", operations))
    # A counter's family is exported as `<name>_total`; its HELP line may drop the suffix.
    missing = {f for f in families if f not in documented and f"{f}_total" not in documented}
    assert missing == set()


def test_every_event_type_is_in_the_webhook_reference() -> None:
    webhooks = _text("webhooks.md")
    assert {name for name in CATALOGUE if f"`{name}`" not in webhooks} == set()


def test_no_link_leaves_the_repository() -> None:
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    for page in pages:
        for target in LINK.findall(page.read_text()):
            where = f"{page.relative_to(ROOT)}: {target}"
            assert "://" not in target and not target.startswith("/"), where
            path = target.split("#", 1)[0]
            if not path:
                continue  # an anchor on the same page
            resolved = (page.parent / path).resolve()
            assert resolved.is_relative_to(ROOT), where
            assert resolved.exists(), where


KEY_LINE = re.compile(r"^### `([A-Z]+) (/\S*)`\s*\n\n\*\*Key:\*\* (`?\w+`?)\.", re.MULTILINE)


async def test_every_route_section_names_the_key_the_route_needs(api: Api) -> None:
    from zaphubd.http.auth import route_scope

    client = await api()
    needs = {
        (r.method, r.resource.canonical): route_scope(r.handler)
        for r in client.app.router.routes()
        if r.resource is not None and r.method not in ("HEAD", "*")
    }
    stated = {(m, p): key.strip("`") for m, p, key in KEY_LINE.findall(_text("api.md"))}
    public = {
        ("GET", "/api/v1/health"),
        ("GET", "/api/docs"),
        ("GET", "/api/docs/openapi.json"),
        ("GET", "/ui"),
    }
    expected = {route: scope for route, scope in needs.items() if route in set(documented_routes())}
    assert stated == {r: "none" if r in public else s for r, s in expected.items()}
