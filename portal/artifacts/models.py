"""Repositories, artifacts and tags: Berth's index of what distribution stores."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from portal.artifacts.kinds import Kind, is_runnable
from portal.projects.models import Project

# An artifact appears in a repository's list unless it is a child of an index or points at a subject
# (signatures, SBOMs): those are shown under their parent, as Harbor does.
LISTED = Q(parent_count=0, subject_digest="")


class Repository(models.Model):
    """`project/name[/…]` as pushed; `name` is the full path including the project.

    The counters are kept by the services in the same transaction as the rows they count, so lists
    sort and paginate on plain columns; `refresh_counters` (used by reconcile) recomputes them.
    """

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="repositories")
    name = models.CharField(max_length=512, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Listed artifacts only; `size` sums their sizes (a layer shared by two artifacts counts twice).
    artifact_count = models.IntegerField(default=0)
    tag_count = models.IntegerField(default=0)
    size = models.BigIntegerField(default=0)
    pushed_at = models.DateTimeField(null=True, blank=True)
    pull_count = models.BigIntegerField(default=0)
    last_pulled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["project", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def short_name(self) -> str:
        """The name inside its project: what the browse API's URLs use."""
        return self.name.partition("/")[2]


class Artifact(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="artifacts")
    digest = models.CharField(max_length=100)
    media_type = models.CharField(max_length=255)
    # `artifactType`, else the config's media type (what the referrers API reports).
    artifact_type = models.CharField(max_length=255, blank=True)
    # Decided once, when the manifest is indexed (portal/artifacts/kinds.py): lists show it without parsing.
    # The index always sets it; the default is what every artifact was taken for before kinds existed.
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.IMAGE)
    manifest = models.BinaryField()
    # The manifest, its config and its layers; for an index, its own bytes plus its children's sizes.
    size = models.BigIntegerField(default=0)
    # 200: room for a sha512 descriptor (135 characters).
    config_digest = models.CharField(max_length=200, blank=True)
    # The image config blob as JSON (env, entrypoint, history…), when it is an image config of sane size.
    config = models.JSONField(null=True, blank=True)
    os = models.CharField(max_length=32, blank=True)
    architecture = models.CharField(max_length=32, blank=True)
    variant = models.CharField(max_length=32, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(null=True, blank=True)
    pushed_at = models.DateTimeField()
    pushed_by = models.CharField(max_length=300, blank=True)
    pull_count = models.BigIntegerField(default=0)
    last_pulled_at = models.DateTimeField(null=True, blank=True)
    subject_digest = models.CharField(max_length=200, blank=True)
    # How many indexes in this repository list this artifact as a child.
    parent_count = models.IntegerField(default=0)
    # Kept with the tag rows, like the repository's counters: an artifact may carry 100,000 tags.
    tag_count = models.IntegerField(default=0)

    class Meta:
        ordering = ["-pushed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["repository", "digest"], name="one_artifact_per_digest")]
        indexes = [
            models.Index(fields=["repository", "-pushed_at", "-id"], condition=LISTED, name="artifact_listed_by_push"),
            models.Index(fields=["repository", "subject_digest"], condition=~Q(subject_digest=""),
                         name="artifact_by_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.repository.name}@{self.digest}"

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    @property
    def runnable(self) -> bool:
        return is_runnable(self.kind)


INDEX_MEDIA_TYPES = frozenset(
    {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}
)


class Tag(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tags")
    # Byte-order collation on PostgreSQL (migration 0003), so sorting is the spec's lexical order.
    name = models.CharField(max_length=128)
    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="tags")
    pushed_at = models.DateTimeField()
    last_pulled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["repository", "name"], name="one_tag_name_per_repository")]
        # Each list pages through one of these with an index-only scan; `include` is PostgreSQL's and
        # simply left out elsewhere.
        indexes = [
            models.Index(fields=["repository", "name"], include=["id"], name="tag_by_name"),
            models.Index(fields=["repository", "pushed_at", "id"], name="tag_by_push"),
            models.Index(fields=["artifact", "name"], include=["id"], name="tag_by_artifact"),
        ]

    def __str__(self) -> str:
        return f"{self.repository.name}:{self.name}"


class ArtifactReference(models.Model):
    """An index (manifest list) and one of its child manifests, with the platform the index gives it."""

    parent = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="child_links")
    child = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="parent_links")
    position = models.IntegerField(default=0)
    platform = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["parent_id", "position"]
        constraints = [models.UniqueConstraint(fields=["parent", "child"], name="one_link_per_child")]
        indexes = [models.Index(fields=["child"], name="reference_by_child")]


class DeletedTag(models.Model):
    """A tag deleted in Berth that distribution 2.8 still lists (it cannot delete tags).

    Reconcile skips the tag while distribution still points it at `digest`; a push of the tag removes
    the row, so re-pushing works.
    """

    repository_name = models.CharField(max_length=512)
    name = models.CharField(max_length=128)
    digest = models.CharField(max_length=100)
    deleted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository_name", "name"], name="one_deleted_tag")]


class DigestAlias(models.Model):
    """Another digest of content distribution stores under its sha256 (distribution 2.8 keys everything by
    sha256): blobs uploaded and manifests pushed by sha512 are found and answered by that digest through it.

    The same bytes have the same digests in every repository, so the table is global; whether a repository
    holds them is still asked of distribution (by the canonical digest) or of the index.
    """

    alias = models.CharField(max_length=200, unique=True)
    canonical = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["canonical"], name="alias_by_canonical")]

    def __str__(self) -> str:
        return f"{self.alias} -> {self.canonical}"
