"""Routes of the accounts API."""

from django.urls import path

from portal.accounts.api import views

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="login"),
    path("auth/logout", views.LogoutView.as_view(), name="logout"),
]
