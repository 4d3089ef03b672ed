"""Routes of the audit API."""

urlpatterns: list = []
