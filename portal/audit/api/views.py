"""The audit log over REST, read-only: all rows for system admins, one project's rows for its members."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import mixins, viewsets

from portal.api.base import ProjectActionPermission, ProjectScopedMixin
from portal.audit.api.serializers import AuditEntrySerializer
from portal.audit.filters import AuditEntryFilter
from portal.audit.models import AuditEntry
from portal.rbac.principals import Resource, require
from portal.rbac.roles import Action, ProjectResource, SystemResource

ORDERING_FIELDS = ["time", "actor", "action", "resource_type", "outcome"]
# The id breaks ties between rows written in the same microsecond, so pages never overlap.
NEWEST_FIRST = ["-time", "-id"]


class AuditLogViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Every audit row; system administrators only."""

    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilter
    ordering_fields = ORDERING_FIELDS
    ordering = NEWEST_FIRST

    def get_queryset(self) -> QuerySet[AuditEntry]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no caller to check
            return AuditEntry.objects.none()
        require(self.request.user, Action.LIST, Resource.system(SystemResource.LOG))
        return AuditEntry.objects.all()


class ProjectAuditLogViewSet(ProjectScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """One project's audit rows, for whoever may list its logs (guests and above)."""

    serializer_class = AuditEntrySerializer
    permission_classes = [ProjectActionPermission]
    project_resource = ProjectResource.LOG
    filterset_class = AuditEntryFilter
    ordering_fields = ORDERING_FIELDS
    ordering = NEWEST_FIRST

    def get_queryset(self) -> QuerySet[AuditEntry]:
        if getattr(
            self, "swagger_fake_view", False
        ):  # the schema generator has no project to resolve
            return AuditEntry.objects.none()
        return AuditEntry.objects.filter(project_id=self.get_project().pk)
