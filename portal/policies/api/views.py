"""Tag policies over REST: thin views that validate, and call one service each (the services check and audit)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.base import ProjectScopedMixin, TokenScopePermission
from portal.policies import services
from portal.policies.api.serializers import (
    ImmutabilityRuleInputSerializer,
    ImmutabilityRuleSerializer,
    ImmutabilityRuleUpdateSerializer,
    PolicySettingsOutSerializer,
    PolicySettingsSerializer,
    RestoredSerializer,
    RestoreSerializer,
    RetentionPolicySerializer,
    RetentionRuleSerializer,
    RetentionRunDetailSerializer,
    RetentionRunRequestSerializer,
    RetentionRunSerializer,
    TagHistorySerializer,
)
from portal.policies.guards import tag_history_days
from portal.rbac.roles import Action, ProjectResource
from portal.utilities.pagination import PageNumberPagination


class VisibleProject(TokenScopePermission):
    """The project must be one the caller sees (else 404); what it may do there the services decide."""

    def has_permission(self, request: Any, view: Any) -> bool:
        super().has_permission(request, view)
        view.get_project()
        return True


class PolicyView(ProjectScopedMixin, generics.GenericAPIView):
    permission_classes = [VisibleProject]
    filter_backends: list[Any] = []
    pagination_class = None


class ImmutabilityRuleList(PolicyView):
    serializer_class = ImmutabilityRuleSerializer

    @extend_schema(operation_id="immutability_rule_list", responses=ImmutabilityRuleSerializer(many=True))
    def get(self, request: Request, **kwargs: Any) -> Response:
        rules = services.immutability_rules_of(request.user, self.get_project())
        return Response(ImmutabilityRuleSerializer(rules, many=True).data)

    @extend_schema(operation_id="immutability_rule_create", request=ImmutabilityRuleInputSerializer,
                   responses={201: ImmutabilityRuleSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        project = self.get_project()
        services.immutability_rules_of(request.user, project)  # refused callers learn nothing from validation
        data = ImmutabilityRuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.create_immutability_rule(request.user, project, source_ip=self.source_ip(),
                                                 **data.validated_data)
        return Response(ImmutabilityRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class ImmutabilityRuleDetail(PolicyView):
    serializer_class = ImmutabilityRuleSerializer

    @extend_schema(operation_id="immutability_rule_update", request=ImmutabilityRuleUpdateSerializer,
                   responses=ImmutabilityRuleSerializer)
    def patch(self, request: Request, **kwargs: Any) -> Response:
        project = self.get_project()
        services.immutability_rules_of(request.user, project)
        rule = services.find_immutability_rule(project, self.kwargs["rule_id"])
        data = ImmutabilityRuleUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.update_immutability_rule(request.user, rule, data.validated_data, self.source_ip())
        return Response(ImmutabilityRuleSerializer(rule).data)

    @extend_schema(operation_id="immutability_rule_destroy", responses={204: None})
    def delete(self, request: Request, **kwargs: Any) -> Response:
        project = self.get_project()
        services.immutability_rules_of(request.user, project)
        rule = services.find_immutability_rule(project, self.kwargs["rule_id"])
        services.delete_immutability_rule(request.user, rule, self.source_ip())
        return Response(status=status.HTTP_204_NO_CONTENT)


class PolicySettings(PolicyView):
    serializer_class = PolicySettingsOutSerializer

    @extend_schema(operation_id="policy_settings_read", responses=PolicySettingsOutSerializer)
    def get(self, request: Request, **kwargs: Any) -> Response:
        self.require(Action.READ, ProjectResource.TAG)
        return Response({"tag_history_days": tag_history_days(self.get_project().pk)})

    @extend_schema(operation_id="policy_settings_update", request=PolicySettingsSerializer,
                   responses=PolicySettingsOutSerializer)
    def put(self, request: Request, **kwargs: Any) -> Response:
        data = PolicySettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        days = services.set_tag_history_days(request.user, self.get_project(), data.validated_data["tag_history_days"],
                                             self.source_ip())
        return Response({"tag_history_days": days})


class TagHistoryView(PolicyView):
    serializer_class = TagHistorySerializer

    @extend_schema(operation_id="tag_history", responses=TagHistorySerializer)
    def get(self, request: Request, **kwargs: Any) -> Response:
        history = services.tag_history(request.user, self.get_project(), unquote(self.kwargs["repository_name"]),
                                       self.kwargs["tag"])
        return Response(TagHistorySerializer(history).data)


class TagRestoreView(PolicyView):
    serializer_class = RestoredSerializer

    @extend_schema(operation_id="tag_restore", request=RestoreSerializer, responses=RestoredSerializer)
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = RestoreSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project, tag = self.get_project(), self.kwargs["tag"]
        artifact = services.restore_tag(request.user, project, unquote(self.kwargs["repository_name"]), tag,
                                        data.validated_data["digest"], self.source_ip())
        return Response({"repository": artifact.repository.name, "tag": tag, "digest": artifact.digest})


def _policy_document(policy: Any) -> dict[str, Any]:
    if policy is None:
        return {"schedule": "", "rules": [], "updated_by": "", "updated_at": None}
    return {"schedule": policy.schedule, "rules": RetentionRuleSerializer(policy.rules.all(), many=True).data,
            "updated_by": policy.updated_by, "updated_at": policy.updated_at}


class RetentionPolicyView(PolicyView):
    serializer_class = RetentionPolicySerializer

    @extend_schema(operation_id="retention_policy_read", responses=RetentionPolicySerializer)
    def get(self, request: Request, **kwargs: Any) -> Response:
        policy = services.retention_policy(request.user, self.get_project())
        return Response(RetentionPolicySerializer(_policy_document(policy)).data)

    @extend_schema(operation_id="retention_policy_update", request=RetentionPolicySerializer,
                   responses=RetentionPolicySerializer)
    def put(self, request: Request, **kwargs: Any) -> Response:
        project = self.get_project()
        self.require(Action.UPDATE, ProjectResource.TAG_RETENTION)
        data = RetentionPolicySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.set_retention_policy(request.user, project, data.validated_data.get("schedule", ""),
                                               data.validated_data["rules"], self.source_ip())
        return Response(RetentionPolicySerializer(_policy_document(policy)).data)


class RetentionRunList(PolicyView):
    serializer_class = RetentionRunSerializer
    pagination_class = PageNumberPagination

    @extend_schema(operation_id="retention_run_list", responses=RetentionRunSerializer(many=True))
    def get(self, request: Request, **kwargs: Any) -> Response:
        page = self.paginate_queryset(services.retention_runs(request.user, self.get_project()))
        return self.get_paginated_response(RetentionRunSerializer(page, many=True).data)

    @extend_schema(operation_id="retention_run_create", request=RetentionRunRequestSerializer,
                   responses={202: RetentionRunSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        project = self.get_project()
        self.require(Action.CREATE, ProjectResource.TAG_RETENTION)
        data = RetentionRunRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.start_retention_run(request.user, project, data.validated_data["dry_run"], self.source_ip())
        run.refresh_from_db()
        return Response(RetentionRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RetentionRunDetail(PolicyView):
    serializer_class = RetentionRunDetailSerializer

    @extend_schema(operation_id="retention_run_read", responses=RetentionRunDetailSerializer)
    def get(self, request: Request, **kwargs: Any) -> Response:
        run = services.find_retention_run(request.user, self.get_project(), self.kwargs["run_id"])
        return Response(RetentionRunDetailSerializer(run).data)
