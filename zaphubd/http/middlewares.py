"""The API's middlewares: access log + metrics, errors → envelope (auth is in `auth.py`).

Order (outermost first): access, errors, auth. The error middleware is the one place where
failures become responses: a client mistake is a 4xx with a clear message, an outage a 503,
anything unexpected a 500 whose body says only where to look (the traceback goes to the log).
"""

from __future__ import annotations

import logging
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from zaphubd.db.database import OUTAGE_ERRORS as PG_OUTAGES
from zaphubd.errors import ApiError, DependencyUnavailable
from zaphubd.http.responses import error_body, json_response
from zaphubd.metrics import Metrics
from zaphubd.queue.redis import OUTAGE_ERRORS as REDIS_OUTAGES

log = logging.getLogger("zaphubd.http")
access_log = logging.getLogger("zaphubd.access")

# The dependencies' own outage errors. OSError and TimeoutError are left out: the database
# layer already turns those into DependencyUnavailable where they come from Postgres, and one
# raised anywhere else (a local file, a timeout of our own) is not an outage.
_GENERIC = (OSError, TimeoutError)
_PG_OUTAGES = tuple(e for e in PG_OUTAGES if e not in _GENERIC)
_REDIS_OUTAGES = tuple(e for e in REDIS_OUTAGES if e not in _GENERIC)

# aiohttp's own HTTP errors, in our vocabulary.
_HTTP_TYPES = {
    400: "ValidationError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    410: "QrExpiredError",
    413: "PayloadTooLargeError",
    415: "ValidationError",
    429: "CapacityError",
    431: "ValidationError",
    503: "ServiceUnavailableError",
}


def make_access_middleware(metrics: Metrics) -> Middleware:
    """One INFO line per request (no query string: it may carry api_key) and metrics."""

    @web.middleware
    async def access(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(request)
            metrics.http_requests.labels(route, request.method, str(status)).inc()
            metrics.http_latency.labels(route, request.method).observe(elapsed)
            access_log.info("%s %s %d %.1fms", request.method, request.path, status, elapsed * 1000)

    return access


def _route_label(request: web.Request) -> str:
    """The route template, never the raw path: keeps metric cardinality bounded."""
    route = request.match_info.route
    resource = route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        body = error_body(err.type_name, err.message, err.details)
        return json_response(body, err.status, err.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like are not errors
        return _http_error(exc)
    except DependencyUnavailable as err:
        return _unavailable(err.dependency, str(err))
    except _PG_OUTAGES as err:
        return _unavailable("postgres", str(err))
    except _REDIS_OUTAGES as err:
        return _unavailable("redis", str(err))
    except Exception:
        request_id = uuid.uuid4().hex[:12]
        log.exception(
            "unhandled error in %s %s (request %s)", request.method, request.path, request_id
        )
        body = error_body(
            "InternalServerError", f"internal error; see the daemon log for request {request_id}"
        )
        return json_response(body, 500)


def _http_error(exc: web.HTTPException) -> web.Response:
    type_name = _HTTP_TYPES.get(
        exc.status, "ValidationError" if exc.status < 500 else "InternalServerError"
    )
    message = {
        404: "no such route",
        405: "method not allowed on this route",
        413: "request body too large",
    }.get(exc.status, exc.reason)
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return json_response(error_body(type_name, message), exc.status, headers)


def _unavailable(dependency: str, reason: str) -> web.Response:
    log.warning("answering 503: %s unavailable (%s)", dependency, reason)
    body = error_body("ServiceUnavailableError", f"{dependency} is unavailable; retry later")
    return json_response(body, 503, {"Retry-After": "5"})
