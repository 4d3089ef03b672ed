"""Webhook representations: secrets and auth headers are write-only; answers say only whether one is set."""

from __future__ import annotations

from rest_framework import serializers

from portal.utilities.serializers import StrictModelSerializer, StrictSerializer
from portal.webhooks.models import (
    EventType,
    PayloadFormat,
    WebhookDelivery,
    WebhookEvent,
    WebhookPolicy,
)

EVENT_TYPE_CHOICES = [t.value for t in EventType if t is not EventType.TEST]


class WebhookPolicySerializer(StrictModelSerializer):
    project = serializers.CharField(source="project.name", read_only=True, default=None, allow_null=True)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES), read_only=True)
    has_secret = serializers.SerializerMethodField()
    has_auth_header = serializers.SerializerMethodField()
    paused = serializers.BooleanField(read_only=True)

    class Meta:
        model = WebhookPolicy
        fields = ["id", "name", "description", "project", "enabled", "target_url", "verify_tls", "payload_format",
                  "event_types", "has_secret", "has_auth_header", "paused", "paused_reason", "paused_at",
                  "consecutive_failures", "created_by", "created_at", "updated_at"]
        read_only_fields = fields

    def get_has_secret(self, policy: WebhookPolicy) -> bool:
        return bool(policy.secret_encrypted)

    def get_has_auth_header(self, policy: WebhookPolicy) -> bool:
        return bool(policy.auth_header_encrypted)


class WebhookPolicyUpdateSerializer(StrictSerializer):
    name = serializers.RegexField(r"^[^/\x00-\x1f]{1,255}$", required=False,
                                  error_messages={"invalid": "1 to 255 characters, no '/' or control characters"})
    description = serializers.CharField(max_length=1024, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    target_url = serializers.CharField(max_length=2048, required=False, help_text="http:// or https:// URL.")
    verify_tls = serializers.BooleanField(required=False)
    payload_format = serializers.ChoiceField(choices=PayloadFormat.choices, required=False)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES), required=False)
    secret = serializers.CharField(max_length=512, required=False, allow_blank=True, write_only=True,
                                   trim_whitespace=False,
                                   help_text="Key of the HMAC-SHA256 `Berth-Signature`; empty removes it. Never returned.")
    auth_header = serializers.CharField(max_length=4096, required=False, allow_blank=True, write_only=True,
                                        help_text="Value sent as `Authorization`; empty removes it. Never returned.")


class WebhookPolicyCreateSerializer(WebhookPolicyUpdateSerializer):
    name = serializers.RegexField(r"^[^/\x00-\x1f]{1,255}$",
                                  error_messages={"invalid": "1 to 255 characters, no '/' or control characters"})
    target_url = serializers.CharField(max_length=2048, help_text="http:// or https:// URL.")
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES))


class WebhookEventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = WebhookEvent
        fields = ["id", "type", "subject", "operator", "occurred_at", "payload"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = WebhookEventSerializer(read_only=True)
    request_headers = serializers.DictField(child=serializers.CharField(), read_only=True)
    attempt_times = serializers.ListField(child=serializers.DateTimeField(), read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "status", "attempts", "attempt_times", "next_attempt_at", "last_attempt_at",
                  "request_headers", "request_body", "response_status", "response_body", "error", "latency_ms",
                  "redelivery_of", "created_at", "delivered_at"]
        read_only_fields = fields
