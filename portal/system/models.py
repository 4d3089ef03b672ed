"""System-wide settings kept in the database, so every portal process sees the same values."""

from __future__ import annotations

from django.db import models


class SystemSettings(models.Model):
    """A single row (id 1) of settings an administrator changes at run time."""

    project_creation_admin_only = models.BooleanField(default=False)
    read_only = models.BooleanField(default=False)
    registry_token_lifetime_seconds = models.PositiveIntegerField(default=1800)
    updated_at = models.DateTimeField(auto_now=True)

    @classmethod
    def load(cls) -> SystemSettings:
        """The row, made with the defaults the first time it is asked for."""
        return cls.objects.get_or_create(pk=1)[0]
