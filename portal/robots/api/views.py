"""Robot accounts over REST: system robots under /robots, project robots under /projects/{name}/robots."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.base import cached_project
from portal.projects.models import Project
from portal.rbac.principals import require
from portal.rbac.roles import Action
from portal.robots import services
from portal.robots.api.serializers import (
    RobotCreatedSerializer,
    RobotCreateSerializer,
    RobotSecretRequestSerializer,
    RobotSecretSerializer,
    RobotSerializer,
    RobotUpdateSerializer,
)
from portal.robots.filters import RobotFilter
from portal.robots.models import Robot
from portal.utilities.requests import client_address

ROBOT_PARAMETER = OpenApiParameter("robot", str, OpenApiParameter.PATH,
                                   description="The robot's id, name, or full name (`robot$…`)")
PROJECT_PARAMETER = OpenApiParameter("project_name", str, OpenApiParameter.PATH)


class RobotViewSetBase(viewsets.GenericViewSet):
    """Everything both levels share; a subclass only says which project, if any, the robots belong to."""

    queryset = Robot.objects.none()
    serializer_class = RobotSerializer
    filterset_class = RobotFilter
    ordering_fields = ["name", "created_at", "expires_at", "disabled"]
    ordering = ["name"]

    def scope(self) -> Project | None:
        raise NotImplementedError

    def require(self, action: Action) -> None:
        require(self.request.user, action, services.robot_resource(self.scope()))

    def get_queryset(self) -> QuerySet[Robot]:
        return services.robots_of(self.scope())

    def get_object(self) -> Robot:
        return services.find_robot(self.scope(), self.kwargs["robot"])

    def list(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.LIST)
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(RobotSerializer(page, many=True).data)

    def retrieve(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.READ)
        return Response(RobotSerializer(self.get_object()).data)

    def create(self, request: Request, **kwargs: Any) -> Response:
        # The permission check comes before validation so a refused caller learns nothing from errors.
        self.require(Action.CREATE)
        data = RobotCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.create_robot(request.user, project=self.scope(), source_ip=client_address(request),
                                       **data.validated_data)
        robot = services.find_robot(self.scope(), str(issued.robot.pk))
        return Response(RobotCreatedSerializer(robot, context={"secret": issued.secret}).data,
                        status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.UPDATE)
        data = RobotUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        robot = services.update_robot(request.user, self.get_object(), data.validated_data,
                                      source_ip=client_address(request))
        return Response(RobotSerializer(services.find_robot(self.scope(), str(robot.pk))).data)

    def destroy(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.DELETE)
        services.delete_robot(request.user, self.get_object(), source_ip=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], url_path="secret")
    def refresh_secret(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.UPDATE)
        data = RobotSecretRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        secret = services.refresh_secret(request.user, self.get_object(), data.validated_data.get("secret"),
                                         source_ip=client_address(request))
        return Response(RobotSecretSerializer(secret).data)


def _schema(tag: str, extra: list[OpenApiParameter]) -> Any:
    detail = [*extra, ROBOT_PARAMETER]
    return extend_schema_view(
        list=extend_schema(summary=f"List {tag} robots", parameters=extra),
        retrieve=extend_schema(summary=f"Read a {tag} robot", parameters=detail),
        create=extend_schema(summary=f"Create a {tag} robot; its secret is shown only here", parameters=extra,
                             request=RobotCreateSerializer, responses={201: RobotCreatedSerializer}),
        partial_update=extend_schema(summary=f"Change a {tag} robot", parameters=detail,
                                     request=RobotUpdateSerializer, responses=RobotSerializer),
        destroy=extend_schema(summary=f"Delete a {tag} robot", parameters=detail, responses={204: None}),
        refresh_secret=extend_schema(summary=f"Refresh a {tag} robot's secret; shown only here", parameters=detail,
                                     request=RobotSecretRequestSerializer, responses=RobotSecretSerializer),
    )


@_schema("system", [])
class SystemRobotViewSet(RobotViewSetBase):
    """Robots that may span every project or several chosen ones; administrators only."""

    def scope(self) -> Project | None:
        return None


@_schema("project", [PROJECT_PARAMETER])
class ProjectRobotViewSet(RobotViewSetBase):
    """Robots of one project: project admins manage them, guests and above may look."""

    def scope(self) -> Project | None:
        return cached_project(self)
