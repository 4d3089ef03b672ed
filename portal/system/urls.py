"""Routes outside the versioned API: /metrics and the browser UI."""

urlpatterns: list = []
