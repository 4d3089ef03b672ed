"""The fleet over REST: hosts and join tokens for administrators, containers per project, agent routes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.base import ProjectActionPermission, ProjectScopedMixin
from portal.fleet import services
from portal.fleet.api.serializers import (
    ContainerSerializer,
    DeploySerializer,
    ExecSerializer,
    HostSerializer,
    HostUpdateSerializer,
    JoinSerializer,
    JoinTokenCreatedSerializer,
    JoinTokenCreateSerializer,
    JoinTokenSerializer,
)
from portal.fleet.filters import ContainerFilter, HostFilter
from portal.fleet.models import Container, Host, JoinToken
from portal.rbac.principals import Resource, require
from portal.rbac.roles import Action, ProjectResource, SystemResource
from portal.utilities.errors import Conflict, InvalidInput, NotFound
from portal.utilities.requests import client_address

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _require_host(request: Request, action: Action) -> None:
    require(request.user, action, Resource.system(SystemResource.HOST))


class JoinTokenList(generics.ListAPIView):
    serializer_class = JoinTokenSerializer
    ordering_fields = ["created_at", "expires_at"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[JoinToken]:
        if getattr(self, "swagger_fake_view", False):
            return JoinToken.objects.none()
        _require_host(self.request, Action.LIST)
        return JoinToken.objects.all()

    @extend_schema(request=JoinTokenCreateSerializer, responses={201: JoinTokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = JoinTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, secret = services.create_join_token(request.user, source_ip=client_address(request), **data.validated_data)
        return Response(JoinTokenCreatedSerializer(token, context={"secret": secret}).data, status=status.HTTP_201_CREATED)


class JoinTokenDetail(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, token_id: int) -> Response:
        _require_host(request, Action.DELETE)
        token = JoinToken.objects.filter(pk=token_id).first()
        if token is None:
            raise NotFound(f"join token {token_id} not found", code="join_token_not_found")
        services.revoke_join_token(request.user, token, source_ip=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class JoinView(APIView):
    """Agents register here with a join token; no account is involved."""

    # Read-only mode pauses people's changes; hosts must still be able to report, or all turn unreachable.
    read_only_exempt = True

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(request=JoinSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = JoinSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        host = services.join_host(values.pop("token"), source_ip=client_address(request), **values)
        return Response(services.join_answer(host), status=status.HTTP_201_CREATED)


class HeartbeatView(APIView):
    """Agents report here, each request signed with the agent's own key."""

    read_only_exempt = True

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes: list[Any] = []

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        from django.conf import settings

        services.accept_heartbeat(request.META.get("HTTP_AUTHORIZATION"), request.path, request.body)
        return Response({"heartbeat_seconds": settings.FLEET_HEARTBEAT_SECONDS})


class HostList(generics.ListAPIView):
    serializer_class = HostSerializer
    filterset_class = HostFilter
    ordering_fields = ["name", "last_heartbeat_at", "joined_at"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[Host]:
        if getattr(self, "swagger_fake_view", False):
            return Host.objects.none()
        _require_host(self.request, Action.LIST)
        return Host.objects.with_status()

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "usage": self._usage}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        self._usage = services.usage(list(page if page is not None else queryset))
        serializer = self.get_serializer(page if page is not None else queryset, many=True)
        return self.get_paginated_response(serializer.data) if page is not None else Response(serializer.data)


class HostDetail(APIView):
    serializer_class = HostSerializer
    def _host(self, name: str) -> Host:
        return services.host_with_status(name)

    def _answer(self, host: Host) -> Response:
        return Response(HostSerializer(host, context={"usage": services.usage([host])}).data)

    def get(self, request: Request, name: str) -> Response:
        _require_host(request, Action.READ)
        return self._answer(self._host(name))

    @extend_schema(request=HostUpdateSerializer, responses=HostSerializer)
    def patch(self, request: Request, name: str) -> Response:
        _require_host(request, Action.UPDATE)
        data = HostUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        host = services.update_host(request.user, self._host(name), source_ip=client_address(request), **data.validated_data)
        return self._answer(host)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, name: str) -> Response:
        _require_host(request, Action.DELETE)
        force = request.query_params.get("force", "").lower() in ("1", "true", "yes")
        services.remove_host(request.user, self._host(name), force=force, source_ip=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class HostContainers(generics.ListAPIView):
    """What runs on one host, in every project: for administrators."""

    serializer_class = ContainerSerializer
    filterset_class = ContainerFilter
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[Container]:
        if getattr(self, "swagger_fake_view", False):
            return Container.objects.none()
        _require_host(self.request, Action.READ)
        host = services.host_with_status(self.kwargs["name"])
        return Container.objects.filter(host=host).select_related("project")


class ContainerList(ProjectScopedMixin, generics.ListAPIView):
    """`?repository=NAME[&reference=TAG|DIGEST]` lists where an artifact runs."""

    serializer_class = ContainerSerializer
    permission_classes = [ProjectActionPermission]
    project_resource = ProjectResource.CONTAINER
    filterset_class = ContainerFilter
    ordering_fields = ["name", "created_at", "status", "host_name"]
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[Container]:
        if getattr(self, "swagger_fake_view", False):
            return Container.objects.none()
        project = self.get_project()
        repository = self.request.query_params.get("repository")
        reference = self.request.query_params.get("reference")
        if reference and not repository:
            raise InvalidInput("reference needs repository too", detail={"reference": ["needs repository"]})
        if repository and reference:
            queryset = services.containers_running_artifact(project, repository, reference)
        elif repository:
            queryset = Container.objects.filter(project=project, repository=f"{project.name}/{repository}")
        else:
            queryset = Container.objects.filter(project=project)
        return queryset.select_related("project")

    @extend_schema(request=DeploySerializer, responses={202: ContainerSerializer})
    def post(self, request: Request, project_name: str) -> Response:
        data = DeploySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        container = services.deploy(request.user, self.get_project(), source_ip=self.source_ip(), **data.validated_data)
        return Response(ContainerSerializer(container, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class ArtifactContainers(ContainerList):
    """Where one artifact (by digest or tag) runs, on every host."""

    # A list only: deploying is the project's containers route (the inherited POST took no artifact from the path).
    http_method_names = ["get", "head", "options"]

    def get_queryset(self) -> QuerySet[Container]:
        if getattr(self, "swagger_fake_view", False):
            return Container.objects.none()
        return services.containers_running_artifact(
            self.get_project(), unquote(self.kwargs["repository_name"]), self.kwargs["reference"]
        ).select_related("project")


class ContainerView(ProjectScopedMixin, APIView):
    project_resource = ProjectResource.CONTAINER
    serializer_class = ContainerSerializer

    def container(self) -> Container:
        ref = self.kwargs["container"]
        queryset = Container.objects.filter(project=self.get_project()).select_related("project", "host")
        found = list(queryset.filter(pk=ref)) if UUID.match(ref) else list(queryset.filter(name=ref)[:2])
        if not found:
            raise NotFound(f"container {ref!r} not found in project {self.get_project().name}", code="container_not_found")
        if len(found) > 1:
            raise Conflict(f"several containers are named {ref!r} (on different hosts): use the id", code="ambiguous")
        return found[0]


class ContainerDetail(ContainerView):
    def get(self, request: Request, project_name: str, container: str) -> Response:
        self.require(Action.READ)
        return Response(ContainerSerializer(self.container(), context={"request": request}).data)

    @extend_schema(responses={202: ContainerSerializer})
    def delete(self, request: Request, project_name: str, container: str) -> Response:
        updated = services.remove_container(request.user, self.container(), source_ip=self.source_ip())
        return Response(ContainerSerializer(updated, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class ContainerAction(ContainerView):
    actions = {"stop": services.stop_container, "restart": services.restart_container}

    @extend_schema(request=None, responses={202: ContainerSerializer}, operation_id="projects_containers_action")
    def post(self, request: Request, project_name: str, container: str, action: str) -> Response:
        updated = self.actions[action](request.user, self.container(), source_ip=self.source_ip())
        return Response(ContainerSerializer(updated, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class ContainerExec(ContainerView):
    @extend_schema(request=ExecSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, project_name: str, container: str) -> Response:
        data = ExecSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.container_exec(request.user, self.container(), source_ip=self.source_ip(),
                                                **data.validated_data))


class ContainerStats(ContainerView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, project_name: str, container: str) -> Response:
        return Response(services.container_stats(request.user, self.container(), source_ip=self.source_ip()))


class ContainerLogs(ContainerView):
    """NDJSON lines `{"time", "stream", "data"}`; with `follow=true` they stream while the container runs."""

    @extend_schema(responses={(200, "application/x-ndjson"): OpenApiTypes.STR})
    def get(self, request: Request, project_name: str, container: str) -> StreamingHttpResponse:
        follow = request.query_params.get("follow", "").lower() in ("1", "true", "yes")
        tail_text = request.query_params.get("tail")
        if tail_text is not None and not tail_text.isdigit():
            raise InvalidInput("tail must be a whole number of lines", detail={"tail": ["a whole number"]})
        lines = services.container_logs(request.user, self.container(), follow=follow,
                                        tail=int(tail_text) if tail_text is not None else None,
                                        source_ip=self.source_ip())

        def body() -> Iterator[bytes]:
            for line in lines:
                yield json.dumps(line).encode() + b"\n"

        response = StreamingHttpResponse(body(), content_type="application/x-ndjson")
        response["X-Accel-Buffering"] = "no"
        return response
