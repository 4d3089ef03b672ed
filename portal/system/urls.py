"""Routes outside the versioned API: /metrics (and the browser UI, added by the frontend)."""

from django.urls import path

from portal.system.metrics import metrics_view

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
]
