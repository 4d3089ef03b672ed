"""The base of views under /projects/{project_name}/…: project lookup by name and permission checks."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions

from portal.projects.models import Project
from portal.projects.services import PROJECT_NAME_PATTERN
from portal.rbac.principals import Principal, Resource, require, require_scope
from portal.rbac.roles import Action, ProjectResource
from portal.utilities.errors import NotFound
from portal.utilities.requests import client_address

# HTTP method → the action a viewset's default permission check asks about.
METHOD_ACTIONS = {
    "GET": Action.LIST,
    "HEAD": Action.LIST,
    "OPTIONS": Action.LIST,
    "POST": Action.CREATE,
    "PUT": Action.UPDATE,
    "PATCH": Action.UPDATE,
    "DELETE": Action.DELETE,
}


def visible_project(principal: Principal, name: str) -> Project:
    """The project by name, or 404 when it does not exist or the caller may not see it (a name no project can
    have is answered so without a query)."""
    project = None
    if PROJECT_NAME_PATTERN.match(name):
        project = Project.objects.visible_to(principal).filter(name=name).first()
    if project is None:
        raise NotFound(f"project {name!r} not found", code="project_not_found")
    return project


def cached_project(view: Any) -> Project:
    """The project a view under /projects/{project_name}/… serves, resolved once per request."""
    cached = getattr(view, "_project", None)
    if cached is None:
        cached = view._project = visible_project(view.request.user, view.kwargs["project_name"])
    return cached


class ProjectScopedMixin:
    """For views under /projects/{project_name}/…: resolves the project once per request."""

    project_resource: ProjectResource

    def get_project(self) -> Project:
        return cached_project(self)

    def require(self, action: Action | str, kind: ProjectResource | None = None) -> None:
        require(self.request.user, action, Resource.of_project(self.get_project(), kind or self.project_resource))  # type: ignore[attr-defined]

    def source_ip(self) -> str | None:
        return client_address(self.request)  # type: ignore[attr-defined]


class TokenScopePermission(permissions.BasePermission):
    """A personal access token reads the API only with api:read and writes only with api:write, whatever the
    view asks `can` (a call on one's own account asks it nothing); anyone else passes to the view's checks."""

    def has_permission(self, request: Any, view: Any) -> bool:
        require_scope(request.user, request.method)
        return True


class ProjectActionPermission(TokenScopePermission):
    """Checks the project resource's action implied by the HTTP method (reads need `list`/`read`)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        super().has_permission(request, view)
        if "project_name" not in view.kwargs:
            return True
        action = METHOD_ACTIONS.get(request.method, Action.READ)
        if action is Action.LIST and view.kwargs.get(getattr(view, "lookup_url_kwarg", None) or view.lookup_field):
            action = Action.READ
        view.require(action)
        return True
