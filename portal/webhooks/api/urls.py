"""Routes of the webhooks API."""

from django.urls import path

from portal.webhooks.api.views import ProjectPolicyViewSet, SystemPolicyViewSet

LIST = {"get": "list", "post": "create"}
DETAIL = {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}


def _routes(prefix: str, viewset: type, name: str) -> list:  # type: ignore[type-arg]
    return [
        path(f"{prefix}", viewset.as_view(LIST), name=f"{name}-list"),
        path(f"{prefix}/<str:policy>", viewset.as_view(DETAIL), name=f"{name}-detail"),
        path(f"{prefix}/<str:policy>/resume", viewset.as_view({"post": "resume"}), name=f"{name}-resume"),
        path(f"{prefix}/<str:policy>/test", viewset.as_view({"post": "test"}), name=f"{name}-test"),
        path(f"{prefix}/<str:policy>/deliveries", viewset.as_view({"get": "deliveries"}), name=f"{name}-deliveries"),
        path(f"{prefix}/<str:policy>/deliveries/<int:delivery>/redeliver", viewset.as_view({"post": "redeliver"}),
             name=f"{name}-redeliver"),
    ]


urlpatterns = [
    *_routes("system/webhooks", SystemPolicyViewSet, "system-webhook"),
    *_routes("projects/<str:project_name>/webhooks", ProjectPolicyViewSet, "project-webhook"),
]
