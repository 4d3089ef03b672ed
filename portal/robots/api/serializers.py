"""Robot representations: the secret appears only in the answers that create or refresh it."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from portal.rbac.roles import Action, ProjectResource
from portal.robots.models import Robot
from portal.utilities.serializers import StrictModelSerializer, StrictSerializer


class RobotPermissionSerializer(StrictSerializer):
    project = serializers.CharField(
        max_length=255, required=False,
        help_text="Project name, or `*` for every project (system robots); defaults to a project robot's project.",
    )
    resource = serializers.ChoiceField(choices=[r.value for r in ProjectResource])
    action = serializers.ChoiceField(choices=[a.value for a in Action])


class RobotSerializer(StrictModelSerializer):
    project = serializers.CharField(source="project.name", read_only=True, default=None, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None, allow_null=True)
    full_name = serializers.CharField(read_only=True)
    level = serializers.ChoiceField(choices=["system", "project"], read_only=True)
    expired = serializers.SerializerMethodField()
    permissions = serializers.SerializerMethodField()

    class Meta:
        model = Robot
        fields = ["id", "name", "full_name", "level", "project", "description", "disabled", "expires_at", "expired",
                  "permissions", "created_by", "created_at", "updated_at", "secret_refreshed_at"]
        read_only_fields = fields

    def get_expired(self, robot: Robot) -> bool:
        return robot.expires_at is not None and robot.expires_at <= timezone.now()

    def get_permissions(self, robot: Robot) -> list[dict[str, str]]:
        return RobotPermissionSerializer(
            [{"project": p.project.name if p.project_id else "*", "resource": p.resource, "action": p.action}
             for p in robot.permissions.all()],
            many=True,
        ).data


class RobotCreatedSerializer(RobotSerializer):
    secret = serializers.SerializerMethodField(help_text="Shown only in this response; only its hash is kept.")

    class Meta(RobotSerializer.Meta):
        fields = [*RobotSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, robot: Robot) -> str:
        return str(self.context["secret"])


class RobotCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(max_length=1024, required=False, allow_blank=True, default="")
    expires_in_days = serializers.IntegerField(required=False, allow_null=True, default=None,
                                               help_text="Days until the robot expires; null (default) for never.")
    disabled = serializers.BooleanField(required=False, default=False)
    permissions = RobotPermissionSerializer(many=True)
    secret = serializers.CharField(required=False, max_length=128, write_only=True, trim_whitespace=False,
                                   help_text="A strong secret of your own; generated when omitted.")


class RobotUpdateSerializer(StrictSerializer):
    description = serializers.CharField(max_length=1024, required=False, allow_blank=True)
    expires_in_days = serializers.IntegerField(required=False, allow_null=True,
                                               help_text="A new expiry counted from now; null for never.")
    disabled = serializers.BooleanField(required=False)
    permissions = RobotPermissionSerializer(many=True, required=False, help_text="Replaces the whole list.")


class RobotSecretRequestSerializer(StrictSerializer):
    secret = serializers.CharField(required=False, max_length=128, write_only=True, trim_whitespace=False,
                                   help_text="A strong secret of your own; generated when omitted.")


class RobotSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True)

    def to_representation(self, instance: Any) -> Any:
        return {"secret": instance}
