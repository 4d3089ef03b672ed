"""Routes of the system API."""

urlpatterns: list = []
