"""The answer to a path under /api/v1/ that no route claims: a 404 in the API's error format, not Django's HTML."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from portal.utilities.errors import error_body


@csrf_exempt  # nothing here changes anything; without it an unknown path POSTed to would be a CSRF page instead
def api_not_found(request: HttpRequest, path: str) -> JsonResponse:
    return JsonResponse(error_body("not_found", f"no API route for {request.path[:200]}"), status=404)
