"""Routes of the audit API."""

from django.urls import path

from portal.audit.api.views import AuditLogViewSet, ProjectAuditLogViewSet

urlpatterns = [
    path("audit-logs", AuditLogViewSet.as_view({"get": "list"}), name="audit-log-list"),
    path(
        "projects/<str:project_name>/audit-logs",
        ProjectAuditLogViewSet.as_view({"get": "list"}),
        name="project-audit-log-list",
    ),
]
