"""RFC 9457 problem details: one error type hierarchy, one set of handlers.

Domain code raises a `ProblemError` subclass; the handlers here render every
error, expected or not, as `application/problem+json` carrying a stable
machine `code` and the request's correlation id. Nothing internal (stack
traces, SQL, exception text) ever reaches the client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:prodlens:problem:"

log = structlog.get_logger(__name__)


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending input, e.g. `body.email`.")
    message: str
    type: str = Field(description="Machine-readable kind of error, e.g. `missing`.")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["urn:prodlens:problem:http.not_found"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The request path.")
    code: str = Field(description="Stable machine code, e.g. `auth.invalid_credentials`.")
    correlation_id: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Base of every error the API answers on purpose. Subclasses set the class vars."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "request.invalid"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class BadRequest(ProblemError):
    status, code, title = 400, "request.invalid", "Bad request"


class MalformedJson(ProblemError):
    status, code, title = 400, "request.malformed_json", "Malformed JSON body"


# Both bases have `detail` and `headers`; ProblemError's (None allowed, a dict) are used.
class BodyProblem(ProblemError, StarletteHTTPException):  # type: ignore[misc]
    """A problem found while a body is read, by whatever reads it (a middleware's
    `receive`, a decoder). FastAPI lets an `HTTPException` out of its own body parsing
    (anything else there becomes a bare 400), and the `ProblemError` handler, first in
    the MRO, renders it."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        StarletteHTTPException.__init__(self, self.status, detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class JsonTooDeep(BodyProblem):
    status, code, title = 400, "request.too_deep", "JSON nested too deeply"


class NotFound(ProblemError):
    status, code, title = 404, "http.not_found", "Not found"


class MethodNotAllowed(ProblemError):
    status, code, title = 405, "http.method_not_allowed", "Method not allowed"


class PayloadTooLarge(ProblemError):
    status, code, title = 413, "http.payload_too_large", "Request body too large"


class UnsupportedMediaType(ProblemError):
    status, code, title = 415, "http.unsupported_media_type", "Unsupported media type"


class ValidationFailed(ProblemError):
    status, code, title = 422, "validation.failed", "Request validation failed"


class UnstorableText(BodyProblem):
    """Text with NUL or half a surrogate pair: no database column stores it."""

    status, code, title = 422, "validation.failed", "Request validation failed"

    @classmethod
    def at(cls, field: str, kind: str = "string_unstorable_character") -> UnstorableText:
        message = "Text may not hold NUL (U+0000) or half a surrogate pair."
        error = FieldError(field=field, message=message, type=kind)
        return cls("1 invalid field(s).", extra={"errors": [error.model_dump()]})


class ServiceUnavailable(ProblemError):
    status, code, title = 503, "service.unavailable", "Service unavailable"


class Maintenance(ProblemError):
    status, code, title = 503, "service.maintenance", "Down for maintenance"


class InternalError(ProblemError):
    status, code, title = 500, "internal.error", "Internal server error"


# Framework errors that carry only a status map to these.
_BY_STATUS: dict[int, type[ProblemError]] = {
    cls.status: cls
    for cls in (BadRequest, NotFound, MethodNotAllowed, PayloadTooLarge, UnsupportedMediaType)
}


def problem_body(
    error: type[ProblemError] | ProblemError,
    *,
    instance: str | None,
    correlation_id: str | None,
    detail: str | None = None,
    errors: Sequence[FieldError] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + error.code,
        "title": error.title,
        "status": error.status,
        "detail": detail,
        "instance": instance,
        "code": error.code,
        "correlation_id": correlation_id,
    }
    if errors is not None:
        body["errors"] = [e.model_dump() for e in errors]
    if isinstance(error, ProblemError):
        body.update(error.extra)
    return body


def problem_response(
    error: type[ProblemError] | ProblemError,
    *,
    instance: str | None,
    correlation_id: str | None,
    detail: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = problem_body(
        error, instance=instance, correlation_id=correlation_id, detail=detail, errors=errors
    )
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        content = text.encode()
    except UnicodeEncodeError:  # a detail quoting half a surrogate pair: escape it instead
        content = json.dumps(body, separators=(",", ":")).encode()
    return Response(
        content=content,
        status_code=error.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def correlation_id_of(scope: Scope) -> str | None:
    value = scope.get("state", {}).get("correlation_id")
    return value if isinstance(value, str) else None


def _response_for(request: Request, error: ProblemError) -> Response:
    return problem_response(
        error,
        instance=request.url.path,
        correlation_id=correlation_id_of(request.scope),
        detail=error.detail,
        headers=error.headers,
    )


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return _response_for(request, exc)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    cls = _BY_STATUS.get(exc.status_code)
    if cls is None:  # an unusual framework status: keep it, with a generic code
        cls = type(
            "FrameworkError",
            (ProblemError,),
            {
                "status": exc.status_code,
                "code": f"http.{exc.status_code}",
                "title": HTTPStatus(exc.status_code).phrase,
            },
        )
    # Framework details are fixed phrases ("Not Found"); never echo anything else.
    detail = exc.detail if isinstance(exc.detail, str) and exc.status_code < 500 else None
    return _response_for(request, cls(detail, headers=exc.headers))


def _field_path(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    if any(err.get("type") == "json_invalid" for err in raw):
        return _response_for(request, MalformedJson("The request body is not valid JSON."))
    errors = [
        FieldError(
            field=_field_path(err.get("loc", ())),
            message=str(err.get("msg", "invalid value")),
            type=str(err.get("type", "value_error")),
        )
        for err in raw
    ]
    return problem_response(
        ValidationFailed,
        instance=request.url.path,
        correlation_id=correlation_id_of(request.scope),
        detail=f"{len(errors)} invalid field(s).",
        errors=errors,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)


Translate = Callable[[Scope, Exception], Response | None]


class UnhandledErrorMiddleware:
    """Turns any unexpected exception into a logged, generic 500 problem.

    It sits inside the header-adding middleware so the 500 still carries the
    correlation id and security headers (Starlette's own last-resort handler
    sits outside all middleware). `translate` may answer an error that is not a
    bug (the database unavailable: 503) before it is logged as one.
    """

    def __init__(self, app: ASGIApp, *, translate: Translate | None = None) -> None:
        self.app = app
        self.translate = translate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except ClientDisconnect:
            # The client went away mid-body: nobody to answer, nothing went wrong here.
            log.info("client_disconnected", path=scope.get("path"))
        except Exception as error:
            answer = self.translate(scope, error) if self.translate is not None else None
            if answer is None:
                log.exception("unhandled_error", path=scope.get("path"))
            if started:  # too late for a clean answer: let the server drop the connection
                raise
            response = answer or problem_response(
                InternalError,
                instance=scope.get("path"),
                correlation_id=correlation_id_of(scope),
                detail="An unexpected error occurred. Quote the correlation id when reporting it.",
            )
            await response(scope, receive, send)


PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/Problem"}


def problem_responses(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problems a route can answer."""
    codes: dict[int, list[str]] = {}
    for error in errors:
        codes.setdefault(error.status, []).append(f"`{error.code}`")
    return {
        status: {
            "description": "Problem: " + ", ".join(names),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}},
        }
        for status, names in codes.items()
    }
