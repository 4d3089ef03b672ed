"""Representations of repositories, artifacts and tags for the browse API (read-only)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.artifacts.kinds import Kind, is_runnable
from portal.artifacts.manifests import layers_with_history, runtime_config
from portal.artifacts.models import Artifact, Repository, Tag


def registry_host() -> str:
    """The host clients pull from: EXTERNAL_URL's host and port."""
    return urlsplit(settings.EXTERNAL_URL).netloc or settings.EXTERNAL_URL


def pull_by_tag(repository: str, tag: str, kind: str = Kind.IMAGE) -> str:
    if kind == Kind.HELM_CHART:
        return f"helm pull oci://{registry_host()}/{repository} --version {tag}"
    return f"{_puller(kind)} {registry_host()}/{repository}:{tag}"


def pull_by_digest(repository: str, digest: str, kind: str = Kind.IMAGE) -> str:
    if kind == Kind.HELM_CHART:
        return f"helm pull oci://{registry_host()}/{repository}@{digest}"
    return f"{_puller(kind)} {registry_host()}/{repository}@{digest}"


def _puller(kind: str) -> str:
    # docker and podman pull only images; oras pulls any artifact's files.
    return "docker pull" if is_runnable(kind) else "oras pull"


def _time(value: datetime | None) -> str | None:
    """DRF's rendering of an aware time in UTC (Berth's TIME_ZONE), without its per-call timezone lookup."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class RepositorySerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.name", read_only=True)
    short_name = serializers.CharField(read_only=True)
    pull_command = serializers.SerializerMethodField()

    class Meta:
        model = Repository
        fields = ["id", "name", "short_name", "project", "artifact_count", "tag_count", "size", "pushed_at",
                  "pull_count", "last_pulled_at", "created_at", "updated_at", "pull_command"]
        read_only_fields = fields

    def get_pull_command(self, repository: Repository) -> str:
        return f"docker pull {registry_host()}/{repository.name}"


class TagSerializer(serializers.ModelSerializer):
    digest = serializers.CharField(source="artifact.digest", read_only=True)
    pull_command = serializers.SerializerMethodField()

    class Meta:
        model = Tag
        fields = ["name", "digest", "pushed_at", "last_pulled_at", "pull_command"]
        read_only_fields = fields

    def get_pull_command(self, tag: Tag) -> str:
        return pull_by_tag(self.context["repository"].name, tag.name, tag.artifact.kind)

    def to_representation(self, tag: Tag) -> dict[str, Any]:
        # Written out: DRF's field-by-field path costs more than the query for a page of 100 tags.
        return {"name": tag.name, "digest": tag.artifact.digest, "pushed_at": _time(tag.pushed_at),
                "last_pulled_at": _time(tag.last_pulled_at), "pull_command": self.get_pull_command(tag)}


class RepositoryTagSerializer(TagSerializer):
    """A tag with what the UI shows of its artifact, for the flat list of a repository's tags."""

    media_type = serializers.CharField(source="artifact.media_type", read_only=True)
    size = serializers.IntegerField(source="artifact.size", read_only=True)

    class Meta(TagSerializer.Meta):
        fields = [*TagSerializer.Meta.fields, "media_type", "size"]
        read_only_fields = fields

    def to_representation(self, tag: Tag) -> dict[str, Any]:
        return {**super().to_representation(tag), "media_type": tag.artifact.media_type, "size": tag.artifact.size}


class PlatformSerializer(serializers.Serializer):
    os = serializers.CharField()
    architecture = serializers.CharField()
    variant = serializers.CharField(required=False)


def platforms_of(artifact: Artifact) -> list[dict[str, Any]]:
    """One platform for an image; each child's for an index (from the index's own descriptors)."""
    children = getattr(artifact, "child_platforms", None)
    if children or artifact.is_index:
        return [dict(platform) for platform in children or []]
    if artifact.os or artifact.architecture:
        platform = {"os": artifact.os, "architecture": artifact.architecture}
        if artifact.variant:
            platform["variant"] = artifact.variant
        return [platform]
    return []


class AccessorySerializer(serializers.Serializer):
    """A referrer (signature, SBOM, other artifact) under its subject."""

    digest = serializers.CharField()
    kind = serializers.ChoiceField(choices=Kind.choices)
    artifact_type = serializers.CharField()
    media_type = serializers.CharField()
    size = serializers.IntegerField()
    pushed_at = serializers.DateTimeField()


def accessories_of(artifact: Artifact) -> list[dict[str, Any]]:
    return [{"digest": item.digest, "kind": item.kind, "artifact_type": item.artifact_type,
             "media_type": item.media_type, "size": item.size, "pushed_at": _time(item.pushed_at)}
            for item in getattr(artifact, "first_accessories", ())]


class ArtifactSummarySerializer(serializers.ModelSerializer):
    """An artifact in a list: a few of its tags (newest first) with the total, its platforms, what kind
    of artifact it is, whether a host can run it, and its newest accessories with their total."""

    tags = serializers.SerializerMethodField()
    tag_count = serializers.IntegerField(read_only=True)
    platforms = serializers.SerializerMethodField()
    is_index = serializers.BooleanField(read_only=True)
    kind = serializers.ChoiceField(choices=Kind.choices, read_only=True)
    runnable = serializers.BooleanField(read_only=True, help_text="An image or image index: a host can run it.")
    accessories = serializers.SerializerMethodField()
    accessory_count = serializers.SerializerMethodField()
    pull_command = serializers.SerializerMethodField()

    class Meta:
        model = Artifact
        fields = ["digest", "media_type", "artifact_type", "kind", "runnable", "is_index", "size", "platforms",
                  "tags", "tag_count", "accessories", "accessory_count", "created", "pushed_at", "pushed_by",
                  "pull_count", "last_pulled_at", "pull_command"]
        read_only_fields = fields

    @extend_schema_field(TagSerializer(many=True))
    def get_tags(self, artifact: Artifact) -> list[dict[str, Any]]:
        repository = self.context["repository"].name
        return [{"name": tag.name, "digest": artifact.digest, "pushed_at": _time(tag.pushed_at),
                 "last_pulled_at": _time(tag.last_pulled_at), "pull_command": pull_by_tag(repository, tag.name, artifact.kind)}
                for tag in getattr(artifact, "first_tags", [])]

    @extend_schema_field(PlatformSerializer(many=True))
    def get_platforms(self, artifact: Artifact) -> list[dict[str, Any]]:
        return platforms_of(artifact)

    @extend_schema_field(AccessorySerializer(many=True))
    def get_accessories(self, artifact: Artifact) -> list[dict[str, Any]]:
        return accessories_of(artifact)

    def get_accessory_count(self, artifact: Artifact) -> int:
        return int(getattr(artifact, "accessory_count", 0))

    def get_pull_command(self, artifact: Artifact) -> str:
        return pull_by_digest(self.context["repository"].name, artifact.digest, artifact.kind)

    def to_representation(self, artifact: Artifact) -> dict[str, Any]:
        # Written out for the same reason as TagSerializer's; the field list above stays the schema.
        return {
            "digest": artifact.digest, "media_type": artifact.media_type, "artifact_type": artifact.artifact_type,
            "kind": artifact.kind, "runnable": artifact.runnable, "is_index": artifact.is_index,
            "size": artifact.size, "platforms": platforms_of(artifact),
            "tags": self.get_tags(artifact), "tag_count": getattr(artifact, "tag_count", 0),
            "accessories": accessories_of(artifact), "accessory_count": self.get_accessory_count(artifact),
            "created": _time(artifact.created), "pushed_at": _time(artifact.pushed_at),
            "pushed_by": artifact.pushed_by, "pull_count": artifact.pull_count,
            "last_pulled_at": _time(artifact.last_pulled_at), "pull_command": self.get_pull_command(artifact),
        }


class ArtifactDetailSerializer(ArtifactSummarySerializer):
    """Everything the artifact page shows: manifest, runtime config, layers with the command that made
    each, an index's children with their platforms, the indexes holding it, and its referrers."""

    manifest = serializers.SerializerMethodField()
    config = serializers.SerializerMethodField()
    layers = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()
    children = serializers.SerializerMethodField()
    parents = serializers.SerializerMethodField()
    referrers = serializers.SerializerMethodField()

    class Meta(ArtifactSummarySerializer.Meta):
        fields = [*ArtifactSummarySerializer.Meta.fields, "os", "architecture", "variant", "config_digest",
                  "subject_digest", "annotations", "labels", "manifest", "config", "layers", "history",
                  "children", "parents", "referrers"]
        read_only_fields = fields

    def to_representation(self, artifact: Artifact) -> dict[str, Any]:
        return serializers.ModelSerializer.to_representation(self, artifact)

    def _document(self, artifact: Artifact) -> dict[str, Any]:
        cached = getattr(artifact, "_document", None)
        if cached is None:
            try:
                cached = json.loads(bytes(artifact.manifest))
            except ValueError:
                cached = {}
            artifact._document = cached  # type: ignore[attr-defined]
        return cached if isinstance(cached, dict) else {}

    def get_manifest(self, artifact: Artifact) -> dict[str, Any]:
        return self._document(artifact)

    def get_config(self, artifact: Artifact) -> dict[str, Any] | None:
        # Only an image's config says how a container starts; a chart's or an empty config does not.
        if artifact.config is None or artifact.kind != Kind.IMAGE:
            return None
        config = artifact.config
        return {**runtime_config(config), "author": str(config.get("author") or ""),
                "created": config.get("created"), "os": config.get("os"), "architecture": config.get("architecture")}

    def get_layers(self, artifact: Artifact) -> list[dict[str, Any]]:
        layers = self._document(artifact).get("layers")
        return layers_with_history([lay for lay in layers if isinstance(lay, dict)] if isinstance(layers, list) else [],
                                   artifact.config)

    def get_history(self, artifact: Artifact) -> list[dict[str, Any]]:
        history = (artifact.config or {}).get("history")
        return [entry for entry in history if isinstance(entry, dict)] if isinstance(history, list) else []

    def get_children(self, artifact: Artifact) -> list[dict[str, Any]]:
        return self.context.get("children", [])

    def get_parents(self, artifact: Artifact) -> list[str]:
        return self.context.get("parents", [])

    def get_referrers(self, artifact: Artifact) -> list[dict[str, Any]]:
        return self.context.get("referrers", [])


class ArtifactDeletedSerializer(serializers.Serializer):
    deleted = serializers.ListField(child=serializers.CharField(), help_text="Digests removed: the artifact, "
                                    "the children only it held, and what referred to it.")
