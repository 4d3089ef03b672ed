"""Read-only mode: while an administrator has switched it on, the API refuses every write.

A view that must keep accepting writes (an agent's heartbeat reports state, it changes nothing an
administrator froze) says so with a class attribute `read_only_exempt = True`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from portal.system.services import is_read_only
from portal.utilities.errors import ReadOnlyMode, error_body

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Signing in and out, and turning read-only mode back off, must keep working while it is on.
ALLOWED_ROUTES = frozenset({"login", "logout", "system-settings"})
MESSAGE = "Berth is in read-only mode: an administrator has paused every change"


class ReadOnlyModeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if request.method in SAFE_METHODS or not request.path.startswith("/api/"):
            return None
        match = request.resolver_match
        if match is not None and match.url_name in ALLOWED_ROUTES:
            return None
        if getattr(getattr(view, "cls", None), "read_only_exempt", False):
            return None
        if not is_read_only():
            return None
        return JsonResponse(error_body(ReadOnlyMode.code, MESSAGE), status=ReadOnlyMode.status_code)
