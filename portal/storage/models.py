"""The blob index: every blob distribution holds, the repositories that link it, the manifests that use it;
and the garbage collection runs that reclaim what nothing uses."""

from __future__ import annotations

from django.db import models

from portal.artifacts.models import Artifact, Repository


class Blob(models.Model):
    PRESENT = "present"
    # Set by a GC run in the same statement that finds the blob unused; a push touching the blob waits for the
    # row to go instead, so no push relies on bytes a sweep is deleting.
    DELETING = "deleting"
    STATUSES = [(PRESENT, PRESENT), (DELETING, DELETING)]

    # 200: a sha512 digest with no alias yet (its upload came around Berth) is 135 characters.
    digest = models.CharField(max_length=200, unique=True)
    # 0 until known: distribution's answer to an upload does not carry it, the manifest's descriptor does.
    size = models.BigIntegerField(default=0)
    media_type = models.CharField(max_length=255, blank=True)
    first_uploaded_at = models.DateTimeField()
    # The last upload, mount or manifest push that used the blob: the grace window runs from here, so a push
    # that HEADs a blob and sends its manifest later never loses it.
    pushed_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=STATUSES, default=PRESENT)

    class Meta:
        indexes = [models.Index(fields=["pushed_at"], name="blob_by_push")]

    def __str__(self) -> str:
        return self.digest


class RepositoryBlob(models.Model):
    """distribution's `_layers` link: the repository may serve the blob."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="blob_links")
    blob = models.ForeignKey(Blob, on_delete=models.CASCADE, related_name="repository_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "blob"], name="one_link_per_repository_blob")]
        indexes = [models.Index(fields=["blob"], name="repository_blob_by_blob")]


class ArtifactBlob(models.Model):
    """A blob a manifest references: its config, a layer, or the manifest's own bytes (distribution keeps a
    manifest as a blob too). Child manifests of an index are artifacts.ArtifactReference; a referrer's
    `subject` points at a manifest and is no reference of it."""

    CONFIG = "config"
    LAYER = "layer"
    MANIFEST = "manifest"
    ROLES = [(CONFIG, CONFIG), (LAYER, LAYER), (MANIFEST, MANIFEST)]

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="blob_links")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="artifact_links")
    role = models.CharField(max_length=16, choices=ROLES)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["artifact", "blob", "role"], name="one_use_per_artifact_blob")]
        indexes = [models.Index(fields=["blob"], name="artifact_blob_by_blob")]


class GCRun(models.Model):
    """One garbage collection: an execution the API lists, carried out by a Celery task by id."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    STATUSES = [(s, s) for s in (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED)]
    FINISHED = (SUCCEEDED, FAILED, STOPPED)

    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    dry_run = models.BooleanField(default=False)
    delete_untagged = models.BooleanField(default=False)
    requested_by = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Renewed after every batch: a running row without news for BERTH_GC_LOCK_SECONDS lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    stop_requested = models.BooleanField(default=False)
    manifests_deleted = models.IntegerField(default=0)
    blobs_deleted = models.IntegerField(default=0)
    bytes_freed = models.BigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    # Per project: {"manifests": n, "blobs": n, "bytes": n}; for a dry run what would go, else what went.
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The lock that keeps runs one at a time across every worker: one running row at most.
        constraints = [models.UniqueConstraint(fields=["status"], condition=models.Q(status="running"),
                                               name="one_running_gc")]

    def __str__(self) -> str:
        return f"gc run {self.pk} ({self.status})"


class GCSchedule(models.Model):
    """A single row (id 1): the cron expression scheduled runs follow; empty means none."""

    cron = models.CharField(max_length=100, blank=True)
    delete_untagged = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    last_scheduled_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def load(cls) -> GCSchedule:
        return cls.objects.get_or_create(pk=1)[0]
