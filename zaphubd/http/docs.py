"""OpenAPI 3 spec at /api/docs/openapi.json and Swagger UI at /api/docs, served offline.

aiohttp-apigami builds the spec from the handlers' decorators when the app starts and serves
the Swagger UI files bundled in its package (no CDN). Request validation uses our parser, so
failures come out in the API.md envelope.
"""

from __future__ import annotations

import warnings

from aiohttp import web
from aiohttp_apigami import AiohttpApiSpec, OpenApiVersion
from aiohttp_apigami.constants import APISPEC_PARSER, SWAGGER_DICT

from zaphubd import __version__
from zaphubd.http.parsing import ApiParser

SPEC_URL = "/api/docs/openapi.json"
DESCRIPTION = (
    "Self-hosted multi-session WhatsApp gateway. Every route but the health check and these "
    "docs needs the API key (when the daemon has one): `Authorization: Bearer <key>` or "
    "`?api_key=<key>`. Errors share one envelope: "
    '`{"success": false, "error": {"type", "message", "details"?}}`.'
)


def setup(app: web.Application) -> None:
    # apigami stores its spec under a plain string key; aiohttp warns about that at startup.
    warnings.filterwarnings("ignore", category=web.NotAppKeyWarning, module=r"aiohttp_apigami\.")
    spec = AiohttpApiSpec(
        url=SPEC_URL,
        app=app,
        swagger_path="/api/docs",
        static_path="/api/docs/static",
        openapi_version=OpenApiVersion.V303,
        title="zaphubd API",
        version=__version__,
        info={"description": DESCRIPTION},
        security=[{"bearerAuth": []}, {"apiKeyQuery": []}],
    )
    spec.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.spec.components.security_scheme(
        "apiKeyQuery", {"type": "apiKey", "in": "query", "name": "api_key"}
    )
    app[APISPEC_PARSER] = ApiParser()
    app.on_startup.append(_clean_spec)


# aiohttp's HTTP parser answers a request it cannot parse (a request line or header beyond
# its limits) with a plain-text 400 before any handler or middleware runs.
_PLAIN_400 = {"text/plain": {"schema": {"type": "string"}}}


async def _clean_spec(app: web.Application) -> None:
    """Drop what apigami adds from Swagger 2 (`produces`, not valid in OpenAPI 3), and
    document the plain-text 400 of malformed HTTP on every operation."""
    for operations in app[SWAGGER_DICT]["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            operation.pop("produces", None)
            bad_request = operation.setdefault("responses", {}).setdefault(
                "400", {"description": "malformed request"}
            )
            bad_request.setdefault("content", {}).update(_PLAIN_400)
