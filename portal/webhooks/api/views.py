"""Webhook policies over REST: system-level under /system/webhooks, a project's under /projects/{name}/webhooks."""

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
from portal.utilities.requests import client_address
from portal.webhooks import services
from portal.webhooks.api.serializers import (
    WebhookDeliverySerializer,
    WebhookPolicyCreateSerializer,
    WebhookPolicySerializer,
    WebhookPolicyUpdateSerializer,
)
from portal.webhooks.filters import DeliveryFilter, PolicyFilter
from portal.webhooks.models import WebhookDelivery, WebhookPolicy

POLICY_PARAMETER = OpenApiParameter("policy", str, OpenApiParameter.PATH, description="The policy's id or name")
DELIVERY_PARAMETER = OpenApiParameter("delivery", int, OpenApiParameter.PATH)
PROJECT_PARAMETER = OpenApiParameter("project_name", str, OpenApiParameter.PATH)


class PolicyViewSetBase(viewsets.GenericViewSet):
    """Everything both levels share; a subclass only says which project, if any, the policies belong to."""

    queryset = WebhookPolicy.objects.none()
    serializer_class = WebhookPolicySerializer
    filterset_class = PolicyFilter
    ordering_fields = ["name", "created_at", "enabled"]
    ordering = ["name"]

    def scope(self) -> Project | None:
        raise NotImplementedError

    def require(self, action: Action) -> None:
        require(self.request.user, action, services.webhook_resource(self.scope()))

    def get_queryset(self) -> QuerySet[WebhookPolicy]:
        return services.policies_of(self.scope()).select_related("project")

    def get_object(self) -> WebhookPolicy:
        return services.find_policy(self.scope(), self.kwargs["policy"])

    def list(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.LIST)
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(WebhookPolicySerializer(page, many=True).data)

    def retrieve(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.READ)
        return Response(WebhookPolicySerializer(self.get_object()).data)

    def create(self, request: Request, **kwargs: Any) -> Response:
        # The permission check comes before validation so a refused caller learns nothing from errors.
        self.require(Action.CREATE)
        data = WebhookPolicyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.create_policy(request.user, self.scope(), source_ip=client_address(request),
                                        **data.validated_data)
        return Response(WebhookPolicySerializer(policy).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.UPDATE)
        data = WebhookPolicyUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.update_policy(request.user, self.get_object(), data.validated_data,
                                        source_ip=client_address(request))
        return Response(WebhookPolicySerializer(policy).data)

    def destroy(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.DELETE)
        services.delete_policy(request.user, self.get_object(), source_ip=client_address(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def resume(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.UPDATE)
        policy = services.resume_policy(request.user, self.get_object(), source_ip=client_address(request))
        return Response(WebhookPolicySerializer(policy).data)

    @action(detail=True, methods=["post"])
    def test(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.UPDATE)
        delivery = services.send_test(request.user, self.get_object(), source_ip=client_address(request))
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.READ)
        deliveries = DeliveryFilter(request.query_params, queryset=services.deliveries_of(self.get_object())).qs
        page = self.paginate_queryset(deliveries.order_by("-id"))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.UPDATE)
        delivery = services.find_delivery(self.get_object(), str(self.kwargs["delivery"]))
        again = services.redeliver(request.user, delivery, source_ip=client_address(request))
        fresh: WebhookDelivery = services.deliveries_of(again.policy).get(pk=again.pk)
        return Response(WebhookDeliverySerializer(fresh).data, status=status.HTTP_202_ACCEPTED)


def _schema(tag: str, extra: list[OpenApiParameter]) -> Any:
    detail = [*extra, POLICY_PARAMETER]
    return extend_schema_view(
        list=extend_schema(summary=f"List {tag} webhook policies", parameters=extra),
        retrieve=extend_schema(summary=f"Read a {tag} webhook policy", parameters=detail),
        create=extend_schema(summary=f"Create a {tag} webhook policy", parameters=extra,
                             request=WebhookPolicyCreateSerializer, responses={201: WebhookPolicySerializer}),
        partial_update=extend_schema(summary=f"Change a {tag} webhook policy", parameters=detail,
                                     request=WebhookPolicyUpdateSerializer, responses=WebhookPolicySerializer),
        destroy=extend_schema(summary=f"Delete a {tag} webhook policy", parameters=detail, responses={204: None}),
        resume=extend_schema(summary=f"Resume a paused {tag} webhook policy", parameters=detail, request=None,
                             responses=WebhookPolicySerializer),
        test=extend_schema(summary=f"Send a test event to a {tag} webhook policy's target", parameters=detail,
                           request=None, responses={202: WebhookDeliverySerializer}),
        deliveries=extend_schema(summary=f"The delivery log of a {tag} webhook policy, newest first",
                                 parameters=[*detail, OpenApiParameter("status", str), OpenApiParameter("event_type", str)],
                                 responses=WebhookDeliverySerializer(many=True)),
        redeliver=extend_schema(summary=f"Send a {tag} webhook delivery's event again", request=None,
                                parameters=[*detail, DELIVERY_PARAMETER], responses={202: WebhookDeliverySerializer}),
    )


@_schema("system", [])
class SystemPolicyViewSet(PolicyViewSetBase):
    """Policies that hear every project's events and the fleet's; administrators only."""

    def scope(self) -> Project | None:
        return None


@_schema("project", [PROJECT_PARAMETER])
class ProjectPolicyViewSet(PolicyViewSetBase):
    """A project's policies: project admins manage them, maintainers may look."""

    def scope(self) -> Project | None:
        return cached_project(self)
