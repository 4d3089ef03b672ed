"""Routes of the system API."""

from django.urls import path

from portal.system.api import views

urlpatterns = [
    path("health", views.HealthView.as_view(), name="health"),
    path("systeminfo", views.SystemInfoView.as_view(), name="systeminfo"),
    path("system/settings", views.SystemSettingsView.as_view(), name="system-settings"),
    path("search", views.SearchView.as_view(), name="search"),
]
