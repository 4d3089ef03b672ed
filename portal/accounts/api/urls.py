"""Routes of the accounts API: sign-in, users, the current user and its tokens."""

from django.urls import path

from portal.accounts.api import views

users = views.UserViewSet.as_view({"get": "list", "post": "create"})
user = views.UserViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
user_password = views.UserViewSet.as_view({"post": "reset_password"})
tokens = views.TokenViewSet.as_view({"get": "list", "post": "create"})
token = views.TokenViewSet.as_view({"delete": "destroy"})
auth_sources = views.AuthSourceViewSet.as_view({"get": "list", "post": "create"})
auth_source = views.AuthSourceViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
auth_source_test = views.AuthSourceViewSet.as_view({"post": "test"})

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="login"),
    path("auth/logout", views.LogoutView.as_view(), name="logout"),
    path("system/auth-sources", auth_sources, name="auth-source-list"),
    path("system/auth-sources/<int:source_id>", auth_source, name="auth-source-detail"),
    path("system/auth-sources/<int:source_id>/test", auth_source_test, name="auth-source-test"),
    path("users", users, name="user-list"),
    # Fixed paths first: "current" and "search" are reserved usernames for this reason.
    path("users/search", views.UserSearchView.as_view(), name="user-search"),
    path("users/current", views.CurrentUserView.as_view(), name="current-user"),
    path("users/current/password", views.CurrentUserPasswordView.as_view(), name="current-user-password"),
    path("users/current/permissions", views.CurrentPermissionsView.as_view(), name="current-user-permissions"),
    path("users/current/tokens", tokens, name="token-list"),
    path("users/current/tokens/<int:token_id>", token, name="token-detail"),
    path("users/<str:username>", user, name="user-detail"),
    path("users/<str:username>/password", user_password, name="user-password"),
]
