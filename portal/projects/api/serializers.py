"""Project and member representations."""

from __future__ import annotations

from rest_framework import serializers

from portal.projects.models import Member, Project
from portal.rbac.roles import Role
from portal.utilities.api import StrictModelSerializer, StrictSerializer


class ProjectSerializer(StrictModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True, default=None)
    member_count = serializers.IntegerField(read_only=True)
    repository_count = serializers.IntegerField(read_only=True, default=0)
    size = serializers.IntegerField(read_only=True, default=0, help_text="Bytes: the sum of its repositories' sizes.")
    current_user_role = serializers.CharField(read_only=True, allow_null=True, default=None)

    class Meta:
        model = Project
        fields = ["id", "name", "public", "description", "owner", "member_count", "repository_count",
                  "size", "current_user_role", "created_at", "updated_at"]
        read_only_fields = ["id", "owner", "created_at", "updated_at"]


class ProjectCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=255)
    public = serializers.BooleanField(default=False)
    description = serializers.CharField(max_length=1024, required=False, allow_blank=True, default="")


class ProjectUpdateSerializer(StrictSerializer):
    public = serializers.BooleanField(required=False)
    description = serializers.CharField(max_length=1024, required=False, allow_blank=True)


class MemberSerializer(StrictModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    role = serializers.ChoiceField(choices=[r.value for r in Role])

    class Meta:
        model = Member
        fields = ["id", "username", "role", "created_at", "updated_at"]
        read_only_fields = ["id", "username", "created_at", "updated_at"]


class MemberCreateSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=[r.value for r in Role])


class MemberUpdateSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=[r.value for r in Role])
