"""Top-level routes: the REST API under /api/v1/, its schema, and the browser UI."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal.api.not_found import api_not_found

api_v1 = [
    path("", include("portal.projects.api.urls")),
    path("", include("portal.accounts.api.urls")),
    path("", include("portal.robots.api.urls")),
    path("", include("portal.audit.api.urls")),
    path("", include("portal.system.api.urls")),
    path("", include("portal.fleet.api.urls")),
    path("", include("portal.policies.api.urls")),
    path("", include("portal.artifacts.api.urls")),
    path("", include("portal.storage.api.urls")),
    path("", include("portal.webhooks.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Last: whatever the routes above did not claim.
    re_path(r"^(?P<path>.*)$", api_not_found, name="api-not-found"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("", include("portal.system.urls")),
    path("", include("portal.ui.urls")),
]
