"""Projects and members over REST: thin views that validate, check and call one service."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.base import (
    ProjectActionPermission,
    ProjectScopedMixin,
    TokenScopePermission,
    visible_project,
)
from portal.projects import services
from portal.projects.api.serializers import (
    GroupMemberCreateSerializer,
    GroupMemberSerializer,
    MemberCreateSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
)
from portal.projects.filters import MemberFilter, ProjectFilter
from portal.projects.models import GroupMember, Member, Project
from portal.rbac.principals import Resource, require
from portal.rbac.roles import Action, ProjectResource
from portal.utilities.errors import NotFound
from portal.utilities.requests import client_address


class ProjectViewSet(viewsets.ModelViewSet):
    """Projects the caller may see; anonymous callers see public ones."""

    serializer_class = ProjectSerializer
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    filterset_class = ProjectFilter
    ordering_fields = ["name", "created_at", "updated_at", "public", "member_count", "repository_count", "size"]
    ordering = ["name"]
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]

    def get_permissions(self) -> list[Any]:
        # Reading public projects needs no account; writing always does.
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [TokenScopePermission()]
        return [IsAuthenticated(), TokenScopePermission()]

    def get_queryset(self) -> QuerySet[Project]:
        return Project.objects.visible_to(self.request.user).with_counts(self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Rows as dicts and a plain loop instead of model instances through DRF's field machinery:
        # the same JSON at a fraction of the CPU (a page of 100 is the list the UI asks for).
        rows = ProjectSerializer.rows(self.filter_queryset(self.get_queryset().readable_by(request.user)))
        page = self.paginate_queryset(rows)
        if page is None:
            return Response(ProjectSerializer.represent_rows(rows))
        return self.get_paginated_response(ProjectSerializer.represent_rows(page))

    def get_object(self) -> Project:
        project = self.get_queryset().filter(name=self.kwargs["name"]).first()
        if project is None:
            raise NotFound(f"project {self.kwargs['name']!r} not found", code="project_not_found")
        return project

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        project = self.get_object()
        require(request.user, Action.READ, Resource.of_project(project, ProjectResource.PROJECT))
        return Response(ProjectSerializer(project).data)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.create_project(request.user, source_ip=client_address(request), **data.validated_data)
        fresh = self.get_queryset().get(pk=project.pk)
        return Response(ProjectSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProjectUpdateSerializer, responses=ProjectSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        project = self.get_object()
        data = ProjectUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        services.update_project(request.user, project, data.validated_data, source_ip=client_address(request))
        return Response(ProjectSerializer(self.get_queryset().get(pk=project.pk)).data)

    @extend_schema(request=ProjectUpdateSerializer(partial=True), responses=ProjectSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().partial_update(request, *args, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.delete_project(request.user, self.get_object(), source_ip=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberViewSet(ProjectScopedMixin, viewsets.ModelViewSet):
    """Members of one project, addressed by username."""

    serializer_class = MemberSerializer
    permission_classes = [ProjectActionPermission]
    project_resource = ProjectResource.MEMBER
    lookup_field = "username"
    lookup_value_regex = "[^/]+"
    filterset_class = MemberFilter
    ordering_fields = ["created_at", "role", "user__username"]
    ordering = ["user__username"]
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Member]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project to resolve
            return Member.objects.none()
        return Member.objects.filter(project=self.get_project()).select_related("user", "project")

    def get_object(self) -> Member:
        member = self.get_queryset().filter(user__username=self.kwargs["username"]).first()
        if member is None:
            raise NotFound(f"{self.kwargs['username']!r} is not a member of {self.get_project().name}",
                           code="member_not_found")
        return member

    @extend_schema(request=MemberCreateSerializer, responses={201: MemberSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = MemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.add_member(request.user, self.get_project(), source_ip=self.source_ip(),
                                     **data.validated_data)
        return Response(MemberSerializer(member).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberUpdateSerializer, responses=MemberSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = MemberUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.change_member_role(request.user, self.get_object(), data.validated_data["role"],
                                             source_ip=self.source_ip())
        return Response(MemberSerializer(member).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.remove_member(request.user, self.get_object(), source_ip=self.source_ip())
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupMemberViewSet(ProjectScopedMixin, viewsets.GenericViewSet):
    """Directory groups that are members of one project, addressed by id (a DN does not fit in a path)."""

    serializer_class = GroupMemberSerializer
    permission_classes = [ProjectActionPermission]
    project_resource = ProjectResource.MEMBER
    ordering_fields = ["created_at", "role", "group"]
    ordering = ["group"]

    def get_queryset(self) -> QuerySet[GroupMember]:
        if getattr(self, "swagger_fake_view", False):
            return GroupMember.objects.none()
        return GroupMember.objects.filter(project=self.get_project()).select_related("source", "project")

    def get_object(self) -> GroupMember:
        member = self.get_queryset().filter(pk=self.kwargs["member_id"]).first()
        if member is None:
            raise NotFound(f"group member {self.kwargs['member_id']} not found in {self.get_project().name}",
                           code="member_not_found")
        return member

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(GroupMemberSerializer(page, many=True).data)

    @extend_schema(request=GroupMemberCreateSerializer, responses={201: GroupMemberSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = GroupMemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        member = services.add_group_member(request.user, self.get_project(), values["source"], values["group"],
                                           values["role"], source_ip=self.source_ip())
        return Response(GroupMemberSerializer(member).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberUpdateSerializer, responses=GroupMemberSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = MemberUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.change_group_member_role(request.user, self.get_object(), data.validated_data["role"],
                                                   source_ip=self.source_ip())
        return Response(GroupMemberSerializer(member).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.remove_group_member(request.user, self.get_object(), source_ip=self.source_ip())
        return Response(status=status.HTTP_204_NO_CONTENT)


__all__ = ["GroupMemberViewSet", "MemberViewSet", "ProjectViewSet", "visible_project"]
