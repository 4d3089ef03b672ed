"""Join tokens, hosts and containers: the portal's record of its fleet and what it asked to run."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from portal.projects.models import Project


class JoinToken(models.Model):
    """Lets an agent register a host. Only its hash is kept; the secret is shown once."""

    description = models.CharField(max_length=255, blank=True)
    prefix = models.CharField(max_length=16)
    secret_hash = models.CharField(max_length=128, unique=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # None: any number of hosts may join with it until it expires.
    max_uses = models.IntegerField(null=True, blank=True)
    use_count = models.IntegerField(default=0)
    labels = models.JSONField(default=dict, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def usable(self) -> bool:
        return (
            not self.revoked
            and self.expires_at > timezone.now()
            and (self.max_uses is None or self.use_count < self.max_uses)
        )


class HostStatus(models.TextChoices):
    ONLINE = "online"
    UNREACHABLE = "unreachable"
    DRAINING = "draining"


class HostQuerySet(models.QuerySet["Host"]):
    def with_status(self) -> HostQuerySet:
        """Status is computed from the heartbeat's age, so every portal process agrees without a job."""
        cutoff = timezone.now() - timedelta(seconds=settings.FLEET_UNREACHABLE_AFTER_SECONDS)
        return self.annotate(
            status=Case(
                When(Q(last_heartbeat_at__isnull=True) | Q(last_heartbeat_at__lt=cutoff), then=Value(str(HostStatus.UNREACHABLE))),
                When(draining=True, then=Value(str(HostStatus.DRAINING))),
                default=Value(str(HostStatus.ONLINE)),
                output_field=models.CharField(),
            )
        )


class Host(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=63, unique=True)
    labels = models.JSONField(default=dict, blank=True)
    # Where the portal reaches the agent's API (http://host:port).
    address = models.CharField(max_length=255)
    # The agent's Ed25519 public key: it signs heartbeats with the private half. Removing the host
    # deletes it, which is what revokes the credential.
    public_key = models.CharField(max_length=64)
    facts = models.JSONField(default=dict, blank=True)
    draining = models.BooleanField(default=False)
    joined_at = models.DateTimeField(auto_now_add=True)
    joined_with = models.ForeignKey(JoinToken, null=True, blank=True, on_delete=models.SET_NULL)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The newest signed timestamp accepted from the agent (µs): an older or equal one is a replay.
    last_signature_ts = models.BigIntegerField(default=0)

    objects = HostQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def cpus(self) -> int:
        return int(self.facts.get("cpus") or 0)

    @property
    def memory_bytes(self) -> int:
        return int(self.facts.get("memory_bytes") or 0)


class ContainerStatus(models.TextChoices):
    PENDING = "pending"
    PULLING = "pulling"
    CREATING = "creating"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPING = "stopping"
    EXITED = "exited"
    FAILED = "failed"
    REMOVING = "removing"


class DesiredState(models.TextChoices):
    RUNNING = "running"
    STOPPED = "stopped"
    REMOVED = "removed"


# Containers that count against a host's capacity and a name or port on it.
ACTIVE_STATUSES = (
    ContainerStatus.PENDING, ContainerStatus.PULLING, ContainerStatus.CREATING, ContainerStatus.RUNNING,
    ContainerStatus.RESTARTING, ContainerStatus.STOPPING,
)  # fmt: skip


class Container(models.Model):
    """A container the portal asked a host to run, its desired state and what the host last reported."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="containers")
    host = models.ForeignKey(Host, null=True, on_delete=models.SET_NULL, related_name="containers")
    host_name = models.CharField(max_length=63)
    name = models.CharField(max_length=128)
    # What runs: the repository's full name, the reference asked for, and the digest it resolved to.
    repository = models.CharField(max_length=512)
    reference = models.CharField(max_length=255)
    digest = models.CharField(max_length=100)
    # The run options as the agent takes them (env, command, ports, volumes, limits, restart).
    spec = models.JSONField(default=dict)
    # Environment variables marked secret: name → Fernet token (portal.utilities.encryption). Kept out
    # of `spec` so nothing that reads or shows the spec can reach them; decrypted only for the agent.
    secret_env = models.JSONField(default=dict, blank=True)
    memory = models.BigIntegerField(null=True, blank=True)
    cpus = models.FloatField(null=True, blank=True)
    desired_state = models.CharField(max_length=16, choices=DesiredState.choices, default=DesiredState.RUNNING)
    # Bumped by a restart request; the worker restarts until `restarts_applied` catches up.
    restarts_requested = models.IntegerField(default=0)
    restarts_applied = models.IntegerField(default=0)
    status = models.CharField(max_length=16, choices=ContainerStatus.choices, default=ContainerStatus.PENDING)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    progress = models.JSONField(default=dict, blank=True)
    agent_id = models.CharField(max_length=64, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    oom_killed = models.BooleanField(default=False)
    # The health check's verdict as the host last reported it: starting, healthy or unhealthy ("" without one).
    health = models.CharField(max_length=16, blank=True)
    # When the task started, pulled, created and started it: the deploy's breakdown.
    timings = models.JSONField(default=dict, blank=True)
    attempts = models.IntegerField(default=0)
    # A worker holds the lease while it talks to the agent; a killed worker's lease simply expires.
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Per project: the agent qualifies names by project, so projects never meet on a host.
            models.UniqueConstraint(fields=["host_name", "project", "name"], name="one_container_name_per_project_and_host"),
        ]
        indexes = [
            models.Index(fields=["project", "-created_at"]),
            models.Index(fields=["repository", "digest"]),
            models.Index(fields=["host", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.host_name}"

    @property
    def image(self) -> str:
        return f"{self.repository}@{self.digest}"
