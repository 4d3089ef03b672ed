"""The SPA's shell page for every UI address, and its content-hashed assets."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.utils._os import safe_join
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

NOT_BUILT = (
    "Berth's browser UI has not been built. Build it with `npm ci && npm run build` in frontend/, "
    "then reload this page. The API is available under /api/v1/ meanwhile."
)
# Vite names assets by content hash, so a given URL never changes: browsers may keep them for a year.
IMMUTABLE = "public, max-age=31536000, immutable"


def dist_dir() -> Path:
    return Path(settings.FRONTEND_DIST)


@require_safe
@ensure_csrf_cookie
def index(request: HttpRequest, path: str = "") -> HttpResponse:
    """index.html for any UI route; the router in the browser picks the page. Sets the CSRF cookie."""
    shell = dist_dir() / "index.html"
    if not shell.is_file():
        return HttpResponse(NOT_BUILT, status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(shell.read_bytes(), content_type="text/html; charset=utf-8")
    # The shell names the current asset hashes: it must be revalidated so an upgrade is seen at once.
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def asset(request: HttpRequest, path: str) -> FileResponse:
    try:
        file = Path(safe_join(dist_dir() / "assets", path))
    except Exception:  # SuspiciousFileOperation: a path that climbs out of the folder
        raise Http404("no such asset") from None
    if not file.is_file():
        raise Http404("no such asset")
    content_type, _ = mimetypes.guess_type(file.name)
    response = FileResponse(file.open("rb"), content_type=content_type or "application/octet-stream")
    response["Cache-Control"] = IMMUTABLE
    return response
