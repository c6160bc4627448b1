"""OpenAPI 3 spec at /api/docs/openapi.json and Swagger UI at /api/docs, served offline.

aiohttp-apigami builds the spec from the handlers' decorators when the app starts; the
Swagger UI files come from its package (no CDN). The page itself is ours: apigami's leaves
Swagger UI's online validator on, which sends the spec's URL to validator.swagger.io
whenever the daemon is reached by a host name other than localhost. Request validation uses
our parser, so failures come out in the API.md envelope.
"""

from __future__ import annotations

import warnings

from aiohttp import web
from aiohttp_apigami import AiohttpApiSpec, OpenApiVersion
from aiohttp_apigami.constants import APISPEC_PARSER, SWAGGER_DICT
from aiohttp_apigami.swagger_ui import SWAGGER_UI_STATIC_FILES

from zaphubd import __version__
from zaphubd.http.parsing import ApiParser

SPEC_URL = "/api/docs/openapi.json"
DOCS_PATH = "/api/docs"
STATIC_PATH = "/api/docs/static"
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
    app.router.add_static(STATIC_PATH, SWAGGER_UI_STATIC_FILES)
    app.router.add_get(DOCS_PATH, _swagger_page)


_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>zaphubd API</title>
<link rel="stylesheet" href="{STATIC_PATH}/swagger-ui.css">
<link rel="stylesheet" href="{STATIC_PATH}/index.css">
<link rel="icon" type="image/png" href="{STATIC_PATH}/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{STATIC_PATH}/swagger-ui-bundle.js"></script>
<script src="{STATIC_PATH}/swagger-ui-standalone-preset.js"></script>
<script>
window.onload = () => {{
  window.ui = SwaggerUIBundle({{
    url: "{SPEC_URL}",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  }});
}};
</script>
</body>
</html>
"""


async def _swagger_page(_: web.Request) -> web.Response:
    return web.Response(text=_PAGE, content_type="text/html")


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
