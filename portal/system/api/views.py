"""System endpoints: health, information about this Berth, its settings, and search."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.base import TokenScopePermission
from portal.rbac.principals import Resource, require
from portal.rbac.roles import Action, SystemResource
from portal.system import health, services
from portal.system.api.serializers import (
    HealthSerializer,
    SearchQuerySerializer,
    SearchResultSerializer,
    SystemInfoSerializer,
    SystemSettingsSerializer,
)
from portal.utilities.requests import client_address


class HealthView(APIView):
    """Each component's status; 503 when Berth cannot serve (its database is down)."""

    permission_classes = [AllowAny]
    # Monitors call this without credentials; stale or wrong ones must not turn it into a 401.
    authentication_classes: list[Any] = []

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        components = health.run_checks()
        status = health.overall_status(components)
        body = {"status": status, "components": [component.as_dict() for component in components]}
        return Response(body, status=503 if status == health.UNHEALTHY else 200)


class SystemInfoView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=SystemInfoSerializer)
    def get(self, request: Request) -> Response:
        return Response(services.system_info(request.user))


class SystemSettingsView(APIView):
    """Settings administrators change at run time."""

    @extend_schema(responses=SystemSettingsSerializer)
    def get(self, request: Request) -> Response:
        require(request.user, Action.READ, Resource.system(SystemResource.CONFIGURATION))
        return Response(SystemSettingsSerializer(services.get_system_settings()).data)

    @extend_schema(request=SystemSettingsSerializer, responses=SystemSettingsSerializer)
    def patch(self, request: Request) -> Response:
        require(request.user, Action.UPDATE, Resource.system(SystemResource.CONFIGURATION))
        data = SystemSettingsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        row = services.update_system_settings(
            request.user, data.validated_data, source_ip=client_address(request)
        )
        return Response(SystemSettingsSerializer(row).data)


class SearchView(APIView):
    """Projects and repositories whose names contain `q`, among those the caller may see."""

    permission_classes = [TokenScopePermission]

    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True), OpenApiParameter("limit", int)],
        responses=SearchResultSerializer,
    )
    def get(self, request: Request) -> Response:
        query = SearchQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        found = services.search(
            request.user, query.validated_data["q"], query.validated_data["limit"]
        )
        return Response(SearchResultSerializer(found).data)
