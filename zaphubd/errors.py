"""The daemon's exception types: one base, subclasses that carry an operator-fit message.

HTTP-facing errors (`ApiError` and its subclasses) carry the API.md error type and status;
the error middleware is the only place that turns them into responses.
"""

from __future__ import annotations

from typing import Any


class ZaphubError(Exception):
    """Base of every error zaphubd raises on purpose."""


class ConfigError(ZaphubError):
    """Invalid configuration: one sentence per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class DependencyUnavailable(ZaphubError):
    """Postgres or Redis cannot be reached."""

    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency} is unreachable: {reason}")
        self.dependency = dependency


class MigrationError(ZaphubError):
    """The database schema cannot be brought to the version this build expects."""


class ApiError(ZaphubError):
    """An error with a place in the API.md error envelope."""

    status = 500
    type_name = "InternalServerError"
    headers: dict[str, str] | None = None

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(ApiError):
    status = 400
    type_name = "ValidationError"


class Unauthorized(ApiError):
    status = 401
    type_name = "UnauthorizedError"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(ApiError):
    status = 403
    type_name = "ForbiddenError"


class NotFound(ApiError):
    status = 404
    type_name = "NotFoundError"


class Conflict(ApiError):
    status = 409
    type_name = "ConflictError"


class SessionNotReady(ApiError):
    status = 409
    type_name = "SessionNotReadyError"


class QrExpired(ApiError):
    status = 410
    type_name = "QrExpiredError"


class PayloadTooLarge(ApiError):
    status = 413
    type_name = "PayloadTooLargeError"


class CapacityReached(ApiError):
    status = 429
    type_name = "CapacityError"


class UpstreamError(ApiError):
    """WhatsApp answered a request with an error that is neither the caller's mistake nor a
    missing target (a refusal the network gives no reason for)."""

    status = 502
    type_name = "UpstreamError"


class ServiceUnavailable(ApiError):
    status = 503
    type_name = "ServiceUnavailableError"
