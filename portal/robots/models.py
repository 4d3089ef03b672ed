"""Robot accounts, system-wide or of one project, and their permission lists."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.projects.models import Project

ROBOT_PREFIX = "robot$"
# Generated secrets start with it; sign-in knows them by it (they are random, never worth slowing down).
ROBOT_SECRET_LABEL = "berth_robot"


class Robot(models.Model):
    """`robot$name` at system level, `robot$project+name` in a project; only the secret's hash is kept."""

    name = models.CharField(max_length=255)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="robots")
    description = models.CharField(max_length=1024, blank=True)
    secret_hash = models.CharField(max_length=128)
    disabled = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    secret_refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_robot_name_per_project"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(project__isnull=True), name="unique_system_robot_name"
            ),
        ]

    @property
    def full_name(self) -> str:
        if self.project_id is None:
            return f"{ROBOT_PREFIX}{self.name}"
        return f"{ROBOT_PREFIX}{self.project.name}+{self.name}"

    @property
    def level(self) -> str:
        return "system" if self.project_id is None else "project"

    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def is_usable(self) -> bool:
        return not self.disabled and not self.is_expired()


class RobotPermission(models.Model):
    """One grant: `action` on `resource` in `project`, or in every project when `project` is empty."""

    robot = models.ForeignKey(Robot, on_delete=models.CASCADE, related_name="permissions")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    resource = models.CharField(max_length=32)
    action = models.CharField(max_length=16)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["robot", "project", "resource", "action"], name="unique_robot_grant")
        ]
