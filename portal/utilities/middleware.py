"""Request guards that apply before any view runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse, JsonResponse

from portal.utilities.errors import error_body


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
