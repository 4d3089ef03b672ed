"""Routes of the artifacts API."""

urlpatterns: list = []
