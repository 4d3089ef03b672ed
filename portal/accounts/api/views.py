"""Sign-in, users, the current user, its permissions and its personal access tokens, over REST."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import HASH_SESSION_KEY, login, logout
from django.db.models import QuerySet
from django.middleware.csrf import get_token
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status, viewsets
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts import services, sources
from portal.accounts.api.serializers import (
    AuthSourceCreateSerializer,
    AuthSourceSerializer,
    AuthSourceTestResultSerializer,
    AuthSourceTestSerializer,
    AuthSourceUpdateSerializer,
    CurrentPermissionsSerializer,
    CurrentUserUpdateSerializer,
    PasswordChangeSerializer,
    PasswordResetSerializer,
    TokenCreatedSerializer,
    TokenCreateSerializer,
    TokenSerializer,
    UserCreateSerializer,
    UserSearchQuerySerializer,
    UserSearchResultSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from portal.accounts.authentication import SESSION_CHALLENGE, authenticate_credentials
from portal.accounts.filters import UserFilter
from portal.accounts.models import AuthSource, PersonalToken, User
from portal.audit.services import record
from portal.rbac.principals import Resource, UserPrincipal, require
from portal.rbac.roles import Action, SystemResource
from portal.utilities.errors import Forbidden, InvalidInput, NotFound
from portal.utilities.requests import client_address
from portal.utilities.serializers import StrictSerializer


class LoginSerializer(StrictSerializer):
    username = serializers.CharField(max_length=300)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class LoginView(APIView):
    """Starts a browser session. Robots and tokens are for scripts, not sessions."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    def get_authenticate_header(self, request: Request) -> str:
        # Without a challenge DRF turns a failed sign-in into 403; 401 is what it is.
        return SESSION_CHALLENGE

    @extend_schema(request=LoginSerializer, responses=inline_serializer("LoginResult", {"username": serializers.CharField()}))
    def post(self, request: Request) -> Response:
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        principal = authenticate_credentials(data.validated_data["username"], data.validated_data["password"],
                                             client_address(request))
        if not isinstance(principal, UserPrincipal) or principal.via != "password":
            raise InvalidInput("sign in with a user's password; robot secrets and tokens are for the API")
        login(request._request, principal.user, backend="django.contrib.auth.backends.ModelBackend")
        record(principal, "login", "user", principal.name, source_ip=client_address(request))
        get_token(request._request)
        return Response({"username": principal.name})


class LogoutView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=204)


def _as_user(principal: Any) -> UserPrincipal:
    if not isinstance(principal, UserPrincipal):
        raise Forbidden(f"{principal.audit_name} is not a user account", code="not_a_user")
    return principal


USERNAME_PARAMETER = OpenApiParameter("username", str, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(summary="List users (administrators)"),
    retrieve=extend_schema(summary="Read a user (administrators)", parameters=[USERNAME_PARAMETER]),
    create=extend_schema(summary="Create a user", request=UserCreateSerializer, responses={201: UserSerializer}),
    partial_update=extend_schema(summary="Change, disable or enable a user", request=UserUpdateSerializer,
                                 responses=UserSerializer, parameters=[USERNAME_PARAMETER]),
    destroy=extend_schema(summary="Delete a user", parameters=[USERNAME_PARAMETER], responses={204: None}),
)
class UserViewSet(viewsets.GenericViewSet):
    """User administration: every action needs the system permission to read user records."""

    queryset = User.objects.select_related("source")
    serializer_class = UserSerializer
    filterset_class = UserFilter
    ordering_fields = ["username", "email", "display_name", "date_joined", "last_login", "is_admin", "is_active"]
    ordering = ["username"]
    lookup_field = "username"
    lookup_value_regex = "[^/]+"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        require(request.user, Action.READ, Resource.system(SystemResource.USER))

    def get_object(self) -> User:
        username = self.kwargs["username"]
        # Names no account can have are not looked up (NUL bytes would upset PostgreSQL).
        user = User.objects.filter(username=username).first() if "\x00" not in username else None
        if user is None:
            raise NotFound(f"user {self.kwargs['username']!r} not found", code="user_not_found")
        return user

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(UserSerializer(page, many=True).data)

    def retrieve(self, request: Request, username: str) -> Response:
        return Response(UserSerializer(self.get_object()).data)

    def create(self, request: Request) -> Response:
        data = UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.create_user(request.user, source_ip=client_address(request), **data.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, username: str) -> Response:
        data = UserUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.update_user(request.user, self.get_object(), data.validated_data,
                                    source_ip=client_address(request))
        return Response(UserSerializer(user).data)

    def destroy(self, request: Request, username: str) -> Response:
        services.delete_user(request.user, self.get_object(), source_ip=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Set a user's password", request=PasswordResetSerializer, responses={204: None},
                   parameters=[USERNAME_PARAMETER])
    def reset_password(self, request: Request, username: str) -> Response:
        data = PasswordResetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.reset_password(request.user, self.get_object(), data.validated_data["password"],
                                source_ip=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserSearchView(generics.GenericAPIView):
    """Usernames starting with `q`, for adding members; no other detail about anyone."""

    serializer_class = UserSearchResultSerializer
    queryset = User.objects.none()
    filter_backends: list[Any] = []

    @extend_schema(summary="Find users by username prefix", parameters=[UserSearchQuerySerializer],
                   responses=UserSearchResultSerializer(many=True))
    def get(self, request: Request) -> Response:
        require(request.user, Action.LIST, Resource.system(SystemResource.USER))
        # Only `q` is validated here: page and page_size belong to the paginator.
        query = UserSearchQuerySerializer(data={k: v for k, v in request.query_params.items() if k == "q"})
        query.is_valid(raise_exception=True)
        users = User.objects.filter(username__istartswith=query.validated_data["q"], is_active=True).only("username")
        page = self.paginate_queryset(users.order_by("username"))
        return self.get_paginated_response(UserSearchResultSerializer(page, many=True).data)


class CurrentUserView(APIView):
    """The signed-in user's own account."""

    @extend_schema(summary="Read your account", responses=UserSerializer)
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(_as_user(request.user).user).data)

    @extend_schema(summary="Change your e-mail, display name or comment", request=CurrentUserUpdateSerializer,
                   responses=UserSerializer)
    def patch(self, request: Request) -> Response:
        data = CurrentUserUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.update_own_profile(request.user, data.validated_data, source_ip=client_address(request))
        return Response(UserSerializer(user).data)


class CurrentUserPasswordView(APIView):
    @extend_schema(summary="Change your password", request=PasswordChangeSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.change_own_password(request.user, data.validated_data["old_password"],
                                            data.validated_data["new_password"], source_ip=client_address(request))
        if getattr(request.user, "via", "") == "session":
            # Keeps this browser signed in; Django signs out the account's other sessions. Done by hand
            # because update_session_auth_hash compares request.user, which DRF made the principal.
            session = request._request.session
            session.cycle_key()
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        return Response(status=status.HTTP_204_NO_CONTENT)


class CurrentPermissionsView(APIView):
    """What the caller may do, so the UI can show or hide controls; asks the same `can` as every check."""

    @extend_schema(
        summary="Your capabilities and per-project permissions",
        parameters=[OpenApiParameter("project", str, description="Only this project (public ones included)")],
        responses=CurrentPermissionsSerializer,
    )
    def get(self, request: Request) -> Response:
        project = request.query_params.get("project")
        return Response({
            "system": services.system_capabilities(request.user),
            "projects": services.project_permissions(request.user, project),
        })


@extend_schema_view(
    list=extend_schema(summary="List your personal access tokens"),
    create=extend_schema(summary="Create a personal access token; its secret is shown only here",
                         request=TokenCreateSerializer, responses={201: TokenCreatedSerializer}),
    destroy=extend_schema(summary="Revoke one of your tokens", responses={204: None},
                          parameters=[OpenApiParameter("token_id", int, OpenApiParameter.PATH)]),
)
class TokenViewSet(viewsets.GenericViewSet):
    """The caller's CLI secrets: usable as a Basic password (`docker login`) or as a Bearer token."""

    serializer_class = TokenSerializer
    queryset = PersonalToken.objects.none()
    filter_backends = [OrderingFilter]
    ordering_fields = ["name", "created_at", "expires_at", "last_used_at"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[PersonalToken]:
        return PersonalToken.objects.filter(user_id=_as_user(self.request.user).user.pk, revoked_at=None)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(TokenSerializer(page, many=True).data)

    def create(self, request: Request) -> Response:
        data = TokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.create_token(request.user, data.validated_data["name"],
                                       data.validated_data["expires_in_days"], scopes=data.validated_data["scopes"],
                                       source_ip=client_address(request))
        body = TokenCreatedSerializer(issued.token, context={"secret": issued.secret}).data
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, token_id: int) -> Response:
        services.revoke_token(request.user, int(token_id), source_ip=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuthSourceViewSet(viewsets.GenericViewSet):
    """Authentication sources (LDAP directories now): administrators only, as the system configuration is."""

    queryset = AuthSource.objects.all()
    serializer_class = AuthSourceSerializer
    ordering = ["priority", "name"]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        require(request.user, Action.READ, Resource.system(SystemResource.CONFIGURATION))

    def get_object(self) -> AuthSource:
        source = AuthSource.objects.filter(pk=self.kwargs["source_id"]).first()
        if source is None:
            raise NotFound(f"authentication source {self.kwargs['source_id']} not found", code="source_not_found")
        return source

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(AuthSourceSerializer(page, many=True).data)

    def retrieve(self, request: Request, source_id: int) -> Response:
        return Response(AuthSourceSerializer(self.get_object()).data)

    @extend_schema(request=AuthSourceCreateSerializer, responses={201: AuthSourceSerializer})
    def create(self, request: Request) -> Response:
        data = AuthSourceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        source = sources.create_source(request.user, source_ip=client_address(request), **data.validated_data)
        return Response(AuthSourceSerializer(source).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AuthSourceUpdateSerializer, responses=AuthSourceSerializer)
    def partial_update(self, request: Request, source_id: int) -> Response:
        data = AuthSourceUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        source = sources.update_source(request.user, self.get_object(), data.validated_data, source_ip=client_address(request))
        return Response(AuthSourceSerializer(source).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, source_id: int) -> Response:
        sources.delete_source(request.user, self.get_object(), source_ip=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Look a user up in the source, as a sign-in would (no password needed)",
                   request=AuthSourceTestSerializer, responses=AuthSourceTestResultSerializer)
    def test(self, request: Request, source_id: int) -> Response:
        data = AuthSourceTestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = sources.test_source(request.user, self.get_object(), data.validated_data["username"],
                                     source_ip=client_address(request))
        return Response(result)
