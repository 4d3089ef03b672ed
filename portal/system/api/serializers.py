"""Representations of system settings, health and search results."""

from __future__ import annotations

from rest_framework import serializers

from portal.system.models import SystemSettings
from portal.system.services import TOKEN_LIFETIME_BOUNDS
from portal.utilities.serializers import StrictModelSerializer, StrictSerializer


class SystemSettingsSerializer(StrictModelSerializer):
    registry_token_lifetime_seconds = serializers.IntegerField(
        min_value=TOKEN_LIFETIME_BOUNDS[0], max_value=TOKEN_LIFETIME_BOUNDS[1], required=False
    )

    class Meta:
        model = SystemSettings
        fields = [
            "project_creation_admin_only",
            "read_only",
            "registry_token_lifetime_seconds",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
        extra_kwargs = {
            "project_creation_admin_only": {"required": False},
            "read_only": {"required": False},
        }


class SystemInfoSerializer(serializers.Serializer):
    external_url = serializers.CharField()
    registry_url = serializers.CharField()
    auth_mode = serializers.CharField()
    read_only = serializers.BooleanField()
    version = serializers.CharField(required=False, help_text="Signed-in callers only.")
    project_creation_admin_only = serializers.BooleanField(
        required=False, help_text="Signed-in callers only."
    )
    registry_token_lifetime_seconds = serializers.IntegerField(
        required=False, help_text="Administrators only."
    )


class ComponentSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["healthy", "unhealthy", "unknown"])
    latency_ms = serializers.FloatField()
    error = serializers.CharField(required=False)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["healthy", "degraded", "unhealthy"])
    components = ComponentSerializer(many=True)


class SearchQuerySerializer(StrictSerializer):
    q = serializers.CharField(max_length=255, trim_whitespace=True)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class SearchProjectSerializer(serializers.Serializer):
    name = serializers.CharField()
    public = serializers.BooleanField()


class SearchRepositorySerializer(serializers.Serializer):
    name = serializers.CharField()
    project = serializers.CharField(source="project.name")


class SearchResultSerializer(serializers.Serializer):
    projects = SearchProjectSerializer(many=True)
    repositories = SearchRepositorySerializer(many=True)
