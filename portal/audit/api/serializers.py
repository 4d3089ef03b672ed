"""Audit log rows as the API shows them."""

from __future__ import annotations

from rest_framework import serializers

from portal.audit.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project_name", read_only=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "time",
            "actor",
            "actor_kind",
            "action",
            "resource_type",
            "resource",
            "project",
            "outcome",
            "source_ip",
            "detail",
        ]
        read_only_fields = fields
