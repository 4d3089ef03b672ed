"""Routes of the robots API."""

urlpatterns: list = []
