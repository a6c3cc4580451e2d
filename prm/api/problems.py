"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error body has ``type`` ("about:blank": the status says what went
wrong), ``title`` (the status's phrase), ``status``, ``detail`` (a sentence
for people), ``instance`` (the request's path) and ``code`` (for programs:
"validation_failed", "not_found", "invalid_api_key"...). A request whose
fields are wrong answers 422 with ``errors``: one ``{"field", "message"}``
per problem ("field" is a dotted path; "non_field_errors" for the whole).

Services refuse with their own exceptions; views turn them into
``Conflict`` (409: the object's state does not allow it) or ``Invalid``
(422), never a 500."""

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from prm.tenancy.errors import ServiceError

PROBLEM_TYPE = "application/problem+json"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object's state does not allow this."
    default_code = "conflict"


class Invalid(exceptions.ValidationError):
    """A refusal about the request's fields (422)."""


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The object has changed since the ETag given in If-Match."
    default_code = "precondition_failed"


def field_errors(detail: Any, path: str = "") -> Iterator[dict[str, str]]:
    """DRF's nested error detail as a flat list of {"field", "message"}."""
    if isinstance(detail, dict):
        for name, inner in detail.items():
            yield from field_errors(inner, f"{path}.{name}" if path else str(name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            for item in detail:
                yield {"field": path or "non_field_errors", "message": str(item)}
        else:
            for index, item in enumerate(detail):
                yield from field_errors(item, f"{path}.{index}" if path else str(index))
    else:
        yield {"field": path or "non_field_errors", "message": str(detail)}


def problem(
    status_code: int, detail: str, *, code: str, instance: str = "", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "instance": instance,
        "code": code,
        **extra,
    }


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return exc.default_code


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``: every error as a problem. A service's
    refusal (``ServiceError``) about a field is a 422 on that field (named
    as the API names it: the view's ``service_fields`` maps the service's
    names), any other refusal a 409."""
    if isinstance(exc, ServiceError):
        view = context.get("view")
        names = getattr(view, "service_fields", {}) or {}
        if exc.field:
            exc = Invalid({names.get(exc.field, exc.field): [exc.message]})
        else:
            exc = Conflict(exc.message)
    elif isinstance(exc, DjangoValidationError):
        exc = Invalid(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("No such object.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    instance = request.path if request is not None else ""
    if isinstance(exc, exceptions.ValidationError):
        response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        errors = list(field_errors(exc.detail))
        body = problem(
            422,
            "The request's fields are not valid: see errors.",
            code="validation_failed",
            instance=instance,
            errors=errors,
        )
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = _code(exc)
        if isinstance(exc, exceptions.Throttled):
            code = "rate_limited"
        body = problem(response.status_code, str(detail), code=code, instance=instance)
    else:  # pragma: no cover - DRF only answers APIException and Http404
        return response
    response.data = body
    response.content_type = PROBLEM_TYPE
    return response
