"""Routes of the storage API."""

from django.urls import path

from portal.storage.api import views

urlpatterns = [
    path("system/gc", views.GCRunListView.as_view(), name="gc-runs"),
    path("system/gc/stop", views.GCStopView.as_view(), name="gc-stop"),
    path("system/gc/schedule", views.GCScheduleView.as_view(), name="gc-schedule"),
    path("system/gc/<int:pk>", views.GCRunDetailView.as_view(), name="gc-run"),
]
