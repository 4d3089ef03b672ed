"""Sign-in and sign-out for browser sessions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.authentication import authenticate_credentials
from portal.audit.services import record
from portal.rbac.principals import UserPrincipal
from portal.utilities.api import StrictSerializer
from portal.utilities.errors import InvalidInput
from portal.utilities.requests import client_address


class LoginSerializer(StrictSerializer):
    username = serializers.CharField(max_length=300)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class LoginView(APIView):
    """Starts a browser session. Robots and tokens are for scripts, not sessions."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

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
