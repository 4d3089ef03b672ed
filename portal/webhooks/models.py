"""Webhook policies, the outbox of events they may announce, and one delivery row per policy and event."""

from __future__ import annotations

import uuid

from django.db import models

from portal.projects.models import Project


class EventType(models.TextChoices):
    ARTIFACT_PUSHED = "artifact.pushed"
    ARTIFACT_PULLED = "artifact.pulled"
    ARTIFACT_DELETED = "artifact.deleted"
    TAG_DELETED = "tag.deleted"
    CONTAINER_DEPLOYED = "container.deployed"
    CONTAINER_RUNNING = "container.running"
    CONTAINER_EXITED = "container.exited"
    CONTAINER_FAILED = "container.failed"
    CONTAINER_OOM_KILLED = "container.oom_killed"
    CONTAINER_UNHEALTHY = "container.unhealthy"
    HOST_ONLINE = "host.online"
    HOST_UNREACHABLE = "host.unreachable"
    HOST_DRAINED = "host.drained"
    RETENTION_FINISHED = "retention.finished"
    GC_FINISHED = "gc.finished"
    # Sent only by "send a test event", to the one policy asked.
    TEST = "test"


# Events about the fleet's hosts and the garbage collection belong to no project: only system-level policies may ask for them.
SYSTEM_EVENT_TYPES = frozenset({EventType.HOST_ONLINE, EventType.HOST_UNREACHABLE, EventType.HOST_DRAINED,
                                EventType.GC_FINISHED})
PROJECT_EVENT_TYPES = frozenset(EventType) - SYSTEM_EVENT_TYPES - {EventType.TEST}


class PayloadFormat(models.TextChoices):
    DEFAULT = "default"
    CLOUDEVENTS = "cloudevents"


class WebhookPolicy(models.Model):
    """Where to announce which events of a project (or, without a project, of every project and the fleet)."""

    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=255)
    description = models.CharField(max_length=1024, blank=True)
    enabled = models.BooleanField(default=True)
    target_url = models.CharField(max_length=2048)
    verify_tls = models.BooleanField(default=True)
    # Fernet tokens (portal.utilities.encryption): Berth must send these again, so they cannot be hashed.
    auth_header_encrypted = models.TextField(blank=True)
    secret_encrypted = models.TextField(blank=True)
    payload_format = models.CharField(max_length=16, choices=PayloadFormat.choices, default=PayloadFormat.DEFAULT)
    event_types = models.JSONField(default=list)
    paused_reason = models.CharField(max_length=1024, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.IntegerField(default=0)
    created_by = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_webhook_name_per_project"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(project__isnull=True),
                                    name="unique_system_webhook_name"),
        ]

    @property
    def paused(self) -> bool:
        return bool(self.paused_reason)


class WebhookEvent(models.Model):
    """One thing that happened, written in the transaction of the change itself (the outbox)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=64, choices=EventType.choices)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    project_name = models.CharField(max_length=255, blank=True)
    operator = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=1024, blank=True)
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    # Events folded together (pulls of one artifact in one minute) share it; unique, so one row each.
    aggregate_key = models.CharField(max_length=1200, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["id"]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One event to one policy's target, with what the last attempt sent and received."""

    policy = models.ForeignKey(WebhookPolicy, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    attempt_times = models.JSONField(default=list)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True)
    response_status = models.IntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=1024, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    redelivery_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The sender's question: this policy's oldest pending delivery.
            models.Index(fields=["policy", "status", "event"], name="webhook_delivery_queue"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]


class AnnouncedHostStatus(models.Model):
    """The last status announced for a host: a host's status is derived from its heartbeat's age, so a
    change is noticed by comparing with what was last said."""

    host_id = models.UUIDField(primary_key=True)
    host_name = models.CharField(max_length=255)
    status = models.CharField(max_length=16)
