"""UI routes, included last: anything not claimed by the API, the registry or /metrics is the SPA's."""

from django.urls import path, re_path

from portal.ui import views

urlpatterns = [
    path("assets/<path:path>", views.asset, name="ui-asset"),
    # Unknown /api/, /v2/ and /service/ paths stay 404s in their own formats instead of an HTML page.
    re_path(r"^(?!api/|v2/|service/|metrics$|static/)(?P<path>.*)$", views.index, name="ui"),
]
