"""Audit log rows."""

from __future__ import annotations

from django.db import models


class Outcome(models.TextChoices):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class AuditEntry(models.Model):
    time = models.DateTimeField(db_index=True)
    actor_kind = models.CharField(max_length=16)
    actor = models.CharField(max_length=300, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    resource_type = models.CharField(max_length=32, db_index=True)
    resource = models.CharField(max_length=1024)
    # The project's id survives its deletion so a project admin can still be shown its history.
    project_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    project_name = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [
            models.Index(fields=["project_id", "-time"]),
            models.Index(fields=["action", "outcome", "time"]),
        ]
