"""Representations of garbage collection runs and their schedule."""

from __future__ import annotations

from rest_framework import serializers

from portal.storage.models import GCRun, GCSchedule
from portal.utilities.serializers import StrictModelSerializer, StrictSerializer


class GCRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = GCRun
        fields = ["id", "status", "dry_run", "delete_untagged", "requested_by", "created_at", "started_at",
                  "finished_at", "stop_requested", "manifests_deleted", "blobs_deleted", "bytes_freed", "errors",
                  "report"]
        read_only_fields = fields


class GCRunRequestSerializer(StrictSerializer):
    dry_run = serializers.BooleanField(default=False)
    delete_untagged = serializers.BooleanField(default=False)


class GCScheduleSerializer(StrictModelSerializer):
    cron = serializers.CharField(allow_blank=True, max_length=100,
                                 help_text="Five cron fields (minute hour day month weekday); empty: no schedule.")

    class Meta:
        model = GCSchedule
        fields = ["cron", "delete_untagged", "updated_at", "last_scheduled_at"]
        read_only_fields = ["updated_at", "last_scheduled_at"]
        extra_kwargs = {"delete_untagged": {"required": False}}
