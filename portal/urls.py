"""Top-level routes: the REST API under /api/v1/, its schema, and the browser UI."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("", include("portal.projects.api.urls")),
    path("", include("portal.accounts.api.urls")),
    path("", include("portal.robots.api.urls")),
    path("", include("portal.audit.api.urls")),
    path("", include("portal.system.api.urls")),
    path("", include("portal.fleet.api.urls")),
    path("", include("portal.policies.api.urls")),
    path("", include("portal.artifacts.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("", include("portal.system.urls")),
    path("", include("portal.ui.urls")),
]
