"""Berth's API errors: one hierarchy with stable codes, and their mapping to /api/ responses."""

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
    # 403, as Harbor answers: a 503 tells clients to retry, and they would retry until an administrator acts.
    code = "read_only"
    status_code = status.HTTP_403_FORBIDDEN


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


def as_api_exception(exc: Exception) -> Exception:
    """Django's own refusals as the DRF exceptions they stand for; anything else unchanged."""
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def error_response(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The response /api/ gives for `exc` (after `as_api_exception`), or None for an unexpected error.

    The mapping alone: `portal.api.exceptions.exception_handler`, DRF's handler, adds the audit of refusals.
    """
    if isinstance(exc, BerthError):
        return Response(error_body(exc.code, exc.message, exc.detail), status=exc.status_code)

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
    return response
