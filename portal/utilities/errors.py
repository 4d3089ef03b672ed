"""Berth's API errors: one hierarchy with stable codes, mapped to HTTP in DRF's exception handler."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response


class BerthError(Exception):
    """A refusal the caller can act on. `code` is stable; clients may branch on it."""

    code = "error"
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, code: str | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.detail = detail


class InvalidInput(BerthError):
    code = "invalid"


class NotFound(BerthError):
    code = "not_found"
    status_code = status.HTTP_404_NOT_FOUND


class Conflict(BerthError):
    code = "conflict"
    status_code = status.HTTP_409_CONFLICT


class Forbidden(BerthError):
    code = "forbidden"
    status_code = status.HTTP_403_FORBIDDEN


class ReadOnlyMode(BerthError):
    code = "read_only"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


class TooManyAttempts(BerthError):
    code = "too_many_attempts"
    status_code = status.HTTP_429_TOO_MANY_REQUESTS


_DRF_CODES = {
    exceptions.NotAuthenticated: "unauthorized",
    exceptions.AuthenticationFailed: "unauthorized",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.ParseError: "malformed_request",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "too_many_attempts",
    exceptions.ValidationError: "invalid",
    exceptions.NotAcceptable: "not_acceptable",
}


def error_body(code: str, message: str, fields: Any = None) -> dict[str, Any]:
    """The one error format of /api/: {"errors": [{"code", "message", "fields"?}]}."""
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"errors": [error]}


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _first_message(value)
            return inner if key in ("non_field_errors", "detail") else f"{key}: {inner}"
        return "invalid input"
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "invalid input"
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, BerthError):
        response = Response(error_body(exc.code, exc.message, exc.detail), status=exc.status_code)
        _record_denial(exc, context)
        return response
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((value for kind, value in _DRF_CODES.items() if isinstance(exc, kind)), "error")
    if isinstance(exc, exceptions.ValidationError):
        message = _first_message(exc.detail)
        response.data = error_body(code, message, exc.detail if isinstance(exc.detail, dict) else None)
    else:
        detail = getattr(exc, "detail", str(exc))
        response.data = error_body(code, str(detail))
    _record_denial(exc, context)
    return response


def _record_denial(exc: Exception, context: dict[str, Any]) -> None:
    """Refused writes and failed authentication are audited, as the brief demands of every write."""
    request = context.get("request")
    if request is None:
        return
    is_write = request.method not in ("GET", "HEAD", "OPTIONS")
    denied = isinstance(exc, exceptions.PermissionDenied | Forbidden)
    unauthenticated = isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated)
    if not ((is_write and denied) or (unauthenticated and request.META.get("HTTP_AUTHORIZATION"))):
        return
    from portal.audit.services import record_refusal

    record_refusal(request, denied=denied, message=str(getattr(exc, "detail", exc)))
