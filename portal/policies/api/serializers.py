"""Representations of immutability rules, tag history, retention policies and runs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.policies.models import ImmutabilityRule, RetentionRule, RetentionRun, TagEvent, Template
from portal.utilities.serializers import StrictModelSerializer, StrictSerializer


def _patterns() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=255), max_length=50, required=False)


class ImmutabilityRuleSerializer(StrictModelSerializer):
    repositories = serializers.ListField(child=serializers.CharField(), read_only=True)
    repositories_excluded = serializers.ListField(child=serializers.CharField(), read_only=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    tags_excluded = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ImmutabilityRule
        fields = ["id", "repositories", "repositories_excluded", "tags", "tags_excluded", "created_by",
                  "created_at"]
        read_only_fields = fields


class ImmutabilityRuleInputSerializer(StrictSerializer):
    repositories = _patterns()
    repositories_excluded = _patterns()
    tags = serializers.ListField(child=serializers.CharField(max_length=255), max_length=50, allow_empty=False)
    tags_excluded = _patterns()


class ImmutabilityRuleUpdateSerializer(ImmutabilityRuleInputSerializer):
    tags = serializers.ListField(child=serializers.CharField(max_length=255), max_length=50, allow_empty=False,
                                 required=False)


class TagEventSerializer(StrictModelSerializer):
    restorable = serializers.SerializerMethodField(
        help_text="The digest this event moved the tag away from can still be restored.")

    class Meta:
        model = TagEvent
        fields = ["id", "action", "from_digest", "to_digest", "actor", "at", "restorable"]
        read_only_fields = fields

    def get_restorable(self, event: TagEvent) -> bool:
        return bool(event.from_digest) and event.from_digest in self.context.get("restorable", set()) and (
            self.context.get("since") is not None and event.at >= self.context["since"])


class TagHistorySerializer(StrictSerializer):
    repository = serializers.CharField(read_only=True)
    tag = serializers.CharField(read_only=True)
    window_days = serializers.IntegerField(read_only=True, help_text="0: the time machine is off.")
    restorable_since = serializers.DateTimeField(read_only=True, allow_null=True)
    events = serializers.SerializerMethodField()

    @extend_schema_field(TagEventSerializer(many=True))
    def get_events(self, history: object) -> list[dict[str, object]]:
        return TagEventSerializer(history.events, many=True,  # type: ignore[attr-defined]
                                  context={"restorable": history.restorable,  # type: ignore[attr-defined]
                                           "since": history.restorable_since}).data  # type: ignore[attr-defined]


class RestoreSerializer(StrictSerializer):
    digest = serializers.CharField(max_length=100)


class RestoredSerializer(StrictSerializer):
    repository = serializers.CharField(read_only=True)
    tag = serializers.CharField(read_only=True)
    digest = serializers.CharField(read_only=True)


class PolicySettingsSerializer(StrictSerializer):
    tag_history_days = serializers.IntegerField(allow_null=True, min_value=0, max_value=3650,
                                                help_text="null: the system default (BERTH_TAG_HISTORY_DAYS).")


class PolicySettingsOutSerializer(StrictSerializer):
    tag_history_days = serializers.IntegerField(read_only=True, help_text="The window in force, in days.")


class RetentionRuleSerializer(StrictModelSerializer):
    repositories = _patterns()
    repositories_excluded = _patterns()
    tags = _patterns()
    tags_excluded = _patterns()
    template = serializers.ChoiceField(choices=Template.choices)
    count = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False, default=0)
    untagged = serializers.BooleanField(required=False, default=False)

    class Meta:
        model = RetentionRule
        fields = ["repositories", "repositories_excluded", "tags", "tags_excluded", "untagged", "template",
                  "count"]


class RetentionPolicySerializer(StrictSerializer):
    schedule = serializers.CharField(max_length=100, allow_blank=True, required=False, default="",
                                     help_text="Five cron fields in UTC (minute hour day month weekday); "
                                               "empty: by hand only.")
    rules = RetentionRuleSerializer(many=True)
    updated_by = serializers.CharField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)


class RetentionRunSerializer(StrictModelSerializer):
    class Meta:
        model = RetentionRun
        fields = ["id", "status", "dry_run", "trigger", "triggered_by", "removed", "kept", "error", "created_at",
                  "started_at", "finished_at"]
        read_only_fields = fields


class RetentionRunDetailSerializer(RetentionRunSerializer):
    class Meta(RetentionRunSerializer.Meta):
        fields = [*RetentionRunSerializer.Meta.fields, "report"]
        read_only_fields = fields


class RetentionRunRequestSerializer(StrictSerializer):
    dry_run = serializers.BooleanField(default=True)
