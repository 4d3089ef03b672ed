"""Request guards that apply before any view runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse, JsonResponse

from portal.utilities.errors import error_body
from portal.utilities.requests import AUTHORIZATION_TOO_LONG, MAX_AUTHORIZATION_BYTES


class RejectNulBytesMiddleware:
    """Answers 400 to a NUL byte in the path or query: no name in Berth may hold one, and PostgreSQL
    refuses them in text parameters, which would otherwise surface as a 500 deep inside a view."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", "") or "\x00" in request.META.get(
            "QUERY_STRING", ""
        ):
            message = "the request's path or query contains a NUL byte"
            if request.path.startswith("/api/"):
                return JsonResponse(error_body("malformed_request", message), status=400)
            return HttpResponse(message, status=400, content_type="text/plain")
        return self.get_response(request)


class CapAuthorizationMiddleware:
    """Answers 431 to an Authorization header over 8 KiB before any authenticator decodes or looks it up."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        if len(request.META.get("HTTP_AUTHORIZATION", "")) > MAX_AUTHORIZATION_BYTES:
            if request.path.startswith("/api/"):
                return JsonResponse(error_body("header_too_large", AUTHORIZATION_TOO_LONG), status=431)
            return HttpResponse(AUTHORIZATION_TOO_LONG, status=431, content_type="text/plain")
        return self.get_response(request)
