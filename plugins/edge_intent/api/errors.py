"""Refusals of the intent API, answered as TMF921 ``Error`` objects naming each field and reason."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

    from include.compiler.errors import IntentValidationError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A refused request.

    :param status: the HTTP status.
    :param reason: a short reason.
    :param errors: the field errors, ``[{"field", "reason"}]``.
    :param headers: extra response headers.
    :param extra: extra members of the Error body.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        errors: list[dict[str, str]] | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status, self.reason, self.errors = status, reason, errors or []
        self.headers, self.extra = headers, extra or {}

    @classmethod
    def field(cls, status: int, reason: str, field: str, why: str) -> ApiError:
        return cls(status, reason, [{"field": field, "reason": why}])


def error_body(status: int, reason: str, errors: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    """A TMF921 ``Error`` whose message lists every field error."""
    message = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or reason
    return {
        "@type": "Error",
        "code": str(status),
        "reason": reason,
        "message": message,
        "status": str(status),
        "errors": errors,
        **extra,
    }


def pydantic_error(error: Any, *, skip: int = 0) -> dict[str, str]:
    """One pydantic error as a field error (``skip`` drops leading location parts, e.g. ``body``)."""
    location = ".".join(str(part) for part in list(error.get("loc", ()))[skip:]) or "body"
    reason = "is not a known field" if error.get("type") == "extra_forbidden" else error.get("msg", "invalid")
    if error.get("type") == "missing":
        reason = "is required"
    return {"field": location, "reason": reason}


def invalid(exc: IntentValidationError) -> ApiError:
    """The 422 answer for an invalid intent."""
    return ApiError(422, "invalid intent", [e.as_dict() for e in exc.errors], extra={"stage": exc.stage})


def install_error_handlers(app: FastAPI, *, statuses: dict[int, int] | None = None) -> None:
    """Answer ApiError, HTTP errors and request validation errors as TMF921 Error objects.

    :param statuses: statuses answered as others (the TMF921 v5 API documents ``400`` for any bad
        input, where the intent API says ``422`` for a well-formed request it refuses and ``415``
        for a body it cannot read).
    """
    statuses = statuses or {}

    async def api_error(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, ApiError):  # pragma: no cover (registered for ApiError only)
            raise exc
        status = statuses.get(exc.status, exc.status)
        return JSONResponse(
            error_body(status, exc.reason, exc.errors, **exc.extra), status, headers=exc.headers
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
            raise exc
        reason = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return JSONResponse(error_body(exc.status_code, reason, []), exc.status_code, headers=headers)

    async def request_error(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):  # pragma: no cover
            raise exc
        errors = [pydantic_error(error, skip=1) for error in exc.errors()]
        status = statuses.get(422, 422)
        return JSONResponse(error_body(status, "invalid request", errors), status)

    async def database_error(_request: Request, exc: Exception) -> JSONResponse:
        if not busy(exc):
            raise exc
        log.warning("Metadata database busy, request refused with 503: %s", str(exc).splitlines()[0])
        return JSONResponse(
            error_body(503, "metadata database busy", [{"field": "database", "reason": BUSY_REASON}]),
            503,
            headers={"Retry-After": str(RETRY_AFTER)},
        )

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, request_error)
    app.add_exception_handler(OperationalError, database_error)
    app.add_exception_handler(PoolTimeout, database_error)


RETRY_AFTER = 1
BUSY_REASON = "busy with other writers; nothing was done, send the request again"


def busy(exc: Exception) -> bool:
    """Whether ``exc`` is the metadata database refusing the request for now: SQLite locked by
    another process's write, or every connection of the api-server's pool taken (waiting for that
    lock). The request's transaction was rolled back or never began: it may simply be sent again."""
    if isinstance(exc, PoolTimeout):
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig or exc)


def allowed_methods(request: Request) -> str:
    """Every method a route of the request's app serves at its path (routing names only the first
    route that matches the path, e.g. ``POST`` alone for ``/intent``, which also serves ``GET``)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        if getattr(route, "methods", None) and route.matches(request.scope)[0] != Match.NONE:
            methods |= set(route.methods)
    return ", ".join(sorted(methods))
