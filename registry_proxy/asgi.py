"""Berth's ASGI entry: `/v2/` and `/service/` go to the registry app, everything else to Django (WSGI)."""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from a2wsgi import WSGIMiddleware  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

from portal.artifacts.services import distribution  # noqa: E402
from portal.system.health import ComponentDown, register_check  # noqa: E402
from registry_proxy.app import RegistryApp  # noqa: E402
from registry_proxy.plumbing import is_registry_path  # noqa: E402

registry = RegistryApp()


def check_registry() -> None:
    """distribution answers Berth's own credentials on /v2/."""
    if not distribution().ping():
        raise ComponentDown("distribution does not answer (or refuses Berth's credentials)")


# Registered by the process that serves /v2/: its health page reports the storage behind it.
register_check("registry", check_registry)
# Django runs in a2wsgi's thread pool; the API is not the hot path.
portal = WSGIMiddleware(get_wsgi_application(), workers=16)  # type: ignore[arg-type]


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan" or scope["type"] == "http" and is_registry_path(scope["path"]):
        await registry(scope, receive, send)
    else:
        await portal(scope, receive, send)
