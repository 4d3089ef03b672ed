"""Tag policies' tables: immutability rules, the tag history, retention policies, their rules and runs."""

from __future__ import annotations

from django.db import models

from portal.projects.models import Project


class ImmutabilityRule(models.Model):
    """Tags of matching repositories that may never move to another digest nor be deleted."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="immutability_rules")
    # Glob patterns (fnmatch: `*` crosses `/`), on the repository's name inside its project and on the tag.
    # No repository pattern means every repository; a rule needs at least one tag pattern.
    repositories = models.JSONField(default=list, blank=True)
    repositories_excluded = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list)
    tags_excluded = models.JSONField(default=list, blank=True)
    created_by = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """What refusals quote: the tag patterns, as the rule was written."""
        return ", ".join(self.tags)


class TagAction(models.TextChoices):
    CREATED = "created"
    MOVED = "moved"
    DELETED = "deleted"


class TagEvent(models.Model):
    """One change of a tag, written in the transaction that made it: the time machine's record.

    By repository name, not a foreign key: a deleted repository's history outlives its rows.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tag_events")
    repository = models.CharField(max_length=512)
    tag = models.CharField(max_length=128)
    from_digest = models.CharField(max_length=100, blank=True)
    to_digest = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=16, choices=TagAction.choices)
    actor = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["repository", "tag", "-at"], name="tag_event_by_tag"),
            models.Index(fields=["at"], name="tag_event_by_time"),
        ]


class ProjectPolicySettings(models.Model):
    """A project's tag policy settings; no row (or a null field) means the system default."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="policy_settings")
    # Days a deleted or moved tag can be restored (BERTH_TAG_HISTORY_DAYS when null; 0 turns it off).
    tag_history_days = models.IntegerField(null=True, blank=True)


class Template(models.TextChoices):
    KEEP_LATEST_PUSHED = "keep_latest_pushed"
    KEEP_LATEST_PULLED = "keep_latest_pulled"
    PUSHED_WITHIN_DAYS = "pushed_within_days"
    PULLED_WITHIN_DAYS = "pulled_within_days"
    ALWAYS = "always"


class RetentionPolicy(models.Model):
    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="retention_policy")
    # Five cron fields (minute hour day-of-month month day-of-week), in UTC; empty: by hand only.
    schedule = models.CharField(max_length=100, blank=True)
    # The minute the beat last started a scheduled run: a second beat tick in the same minute starts none.
    last_scheduled_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class RetentionRule(models.Model):
    policy = models.ForeignKey(RetentionPolicy, on_delete=models.CASCADE, related_name="rules")
    position = models.IntegerField(default=0)
    repositories = models.JSONField(default=list, blank=True)
    repositories_excluded = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    tags_excluded = models.JSONField(default=list, blank=True)
    # Whether the rule also keeps artifacts with no tag at all (they have no tag to remove otherwise).
    untagged = models.BooleanField(default=False)
    template = models.CharField(max_length=32, choices=Template.choices)
    # K for the keep_latest templates, N days for the within templates; unused by `always`.
    count = models.IntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    @property
    def label(self) -> str:
        tags = ",".join(self.tags) or "**"
        repositories = ",".join(self.repositories) or "**"
        amount = "" if self.template == Template.ALWAYS else f" {self.count}"
        return f"#{self.position + 1} {self.template}{amount} of {repositories}:{tags}"


class RunStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RetentionRun(models.Model):
    """One execution of a project's retention policy: what it removed (or would), per repository."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="retention_runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    dry_run = models.BooleanField(default=True)
    trigger = models.CharField(max_length=16, default="manual")
    triggered_by = models.CharField(max_length=300, blank=True)
    # {repository: {tag: "removed" | "kept: <why>"}} plus untagged artifacts by digest.
    report = models.JSONField(default=dict, blank=True)
    removed = models.IntegerField(default=0)
    kept = models.IntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "status"], name="retention_run_by_status")]
