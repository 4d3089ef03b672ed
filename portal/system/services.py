"""Reading and changing system settings, describing this Berth, and searching what a caller may see."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from portal.audit.services import record
from portal.projects.models import Project
from portal.rbac.principals import Principal, Resource, UserPrincipal, require
from portal.rbac.roles import Action, ProjectResource, SystemResource
from portal.system.models import SystemSettings
from portal.utilities.errors import InvalidInput

TOKEN_LIFETIME_BOUNDS = (60, 86400)
SETTING_NAMES = ("project_creation_admin_only", "read_only", "registry_token_lifetime_seconds")


def get_system_settings() -> SystemSettings:
    return SystemSettings.load()


def is_read_only() -> bool:
    return SystemSettings.objects.filter(pk=1, read_only=True).exists()


def update_system_settings(
    actor: Principal, changes: dict[str, Any], source_ip: str | None = None
) -> SystemSettings:
    require(actor, Action.UPDATE, Resource.system(SystemResource.CONFIGURATION))
    unknown = sorted(set(changes) - set(SETTING_NAMES))
    if unknown:
        raise InvalidInput(
            f"unknown setting {unknown[0]!r}", detail={name: ["unknown field"] for name in unknown}
        )
    lifetime = changes.get("registry_token_lifetime_seconds")
    low, high = TOKEN_LIFETIME_BOUNDS
    if lifetime is not None and not low <= lifetime <= high:
        raise InvalidInput(
            f"registry_token_lifetime_seconds must be from {low} to {high}, not {lifetime}",
            detail={"registry_token_lifetime_seconds": [f"from {low} to {high}"]},
        )
    with transaction.atomic():
        row = SystemSettings.objects.select_for_update().get_or_create(pk=1)[0]
        previous = {key: getattr(row, key) for key in changes}
        for key, value in changes.items():
            setattr(row, key, value)
        row.save()
        record(
            actor,
            "update",
            "configuration",
            "system",
            source_ip=source_ip,
            detail={"from": previous, "to": changes},
        )
    return row


@lru_cache(maxsize=1)
def version() -> str:
    try:
        with (settings.BASE_DIR / "pyproject.toml").open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def system_info(principal: Principal) -> dict[str, Any]:
    """What clients need to know about this Berth; anonymous callers get only what a sign-in page needs."""
    external = settings.EXTERNAL_URL.rstrip("/")
    row = get_system_settings()
    info: dict[str, Any] = {
        "external_url": external,
        # What `docker login` / `docker pull` take: the host (and port) of the external URL.
        "registry_url": urlsplit(external).netloc,
        "auth_mode": "local",
        "read_only": row.read_only,
    }
    if principal.is_authenticated:
        info["version"] = version()
        info["project_creation_admin_only"] = row.project_creation_admin_only
    if principal.is_system_admin:
        info["registry_token_lifetime_seconds"] = row.registry_token_lifetime_seconds
    return info


@dataclass(frozen=True)
class SearchResult:
    projects: list[Project]
    repositories: list[Any]


def search(principal: Principal, query: str, limit: int) -> SearchResult:
    """Projects and repositories whose name contains `query`, among those `principal` may see."""
    visible = Project.objects.visible_to(principal)
    projects = list(visible.filter(name__icontains=query).order_by("name")[:limit])
    repositories: list[Any] = []
    if apps.is_installed("portal.artifacts"):
        candidates: QuerySet[Any] = (
            apps.get_model("artifacts", "Repository")
            .objects.filter(project__in=visible, name__icontains=query)
            .select_related("project")
            .order_by("name")[:limit]
        )
        rows = list(candidates)
        if isinstance(principal, UserPrincipal):
            principal.preload_roles(sorted({row.project_id for row in rows}))
        # Seeing a project is not always listing its repositories (a robot's grants may say otherwise).
        repositories = [
            row
            for row in rows
            if principal.can(
                Action.LIST, Resource.of_project(row.project, ProjectResource.REPOSITORY)
            )
        ]
    return SearchResult(projects, repositories)
