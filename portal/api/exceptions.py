"""DRF's exception handler: Berth's error mapping, plus an audit row for refused writes and failed sign-ins."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response

from portal.audit.services import record_refusal
from portal.utilities.errors import BerthError, Forbidden, as_api_exception, error_response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = as_api_exception(exc)
    response = error_response(exc, context)
    if response is not None:
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
    # Berth's own refusals keep their text in `message` (their `detail` is extra data, usually None).
    message = exc.message if isinstance(exc, BerthError) else str(getattr(exc, "detail", exc))
    record_refusal(request, denied=denied, message=message)
