"""Reading OCI and Docker manifests and image configs: pure functions, no database, no network."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json",
                                "application/vnd.docker.container.image.v1+json"})

# The distribution spec's grammar (github.com/opencontainers/distribution-spec, "Pulling manifests").
REPOSITORY_PATTERN = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")
TAG_PATTERN = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
DIGEST_PATTERN = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_HEX_LENGTHS = {"sha256": 64, "sha512": 128}


class InvalidManifest(ValueError):
    """The bytes are not a manifest Berth can index."""


def is_digest(reference: str) -> bool:
    if not DIGEST_PATTERN.match(reference):
        return False
    algorithm, _, encoded = reference.partition(":")
    expected = _HEX_LENGTHS.get(algorithm)
    return expected is None or (len(encoded) == expected and re.fullmatch(r"[a-f0-9]+", encoded) is not None)


def is_repository_name(name: str) -> bool:
    return len(name) <= 255 and REPOSITORY_PATTERN.match(name) is not None


def is_tag(reference: str) -> bool:
    return TAG_PATTERN.match(reference) is not None


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    artifact_type: str = ""

    @classmethod
    def parse(cls, raw: Any, where: str) -> Descriptor:
        if not isinstance(raw, dict):
            raise InvalidManifest(f"{where} is not a descriptor object")
        digest, size = raw.get("digest"), raw.get("size", 0)
        if not isinstance(digest, str) or not is_digest(digest):
            raise InvalidManifest(f"{where} has an invalid digest {digest!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidManifest(f"{where} has an invalid size {size!r}")
        platform = raw.get("platform")
        annotations = raw.get("annotations")
        return cls(
            media_type=str(raw.get("mediaType") or ""),
            digest=digest,
            size=size,
            platform={k: v for k, v in platform.items() if isinstance(v, str | list)} if isinstance(platform, dict) else {},
            annotations=_string_map(annotations),
            artifact_type=str(raw.get("artifactType") or ""),
        )

    def as_oci(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            out["platform"] = self.platform
        if self.annotations:
            out["annotations"] = self.annotations
        return out


@dataclass(frozen=True)
class ParsedManifest:
    media_type: str
    kind: str  # "image", "index" or "other"
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    children: tuple[Descriptor, ...] = ()
    artifact_type: str = ""
    subject_digest: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    # Only Docker schema 1 carries its platform in the manifest itself.
    architecture: str = ""

    @property
    def blobs_size(self) -> int:
        return (self.config.size if self.config else 0) + sum(layer.size for layer in self.layers)


def parse_manifest(body: bytes, media_type: str = "") -> ParsedManifest:
    """Parses a manifest; `media_type` (the Content-Type it was pushed with) wins over the body's field."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidManifest(f"manifest is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidManifest("manifest is not a JSON object")
    media_type = media_type.split(";")[0].strip() or str(document.get("mediaType") or "")
    subject = document.get("subject")
    subject_digest = Descriptor.parse(subject, "subject").digest if subject is not None else ""
    common: dict[str, Any] = {
        "media_type": media_type,
        "artifact_type": str(document.get("artifactType") or ""),
        "subject_digest": subject_digest,
        "annotations": _string_map(document.get("annotations")),
    }
    if "manifests" in document or media_type in INDEX_TYPES:
        children = document.get("manifests") or []
        if not isinstance(children, list):
            raise InvalidManifest("manifests is not a list")
        parsed = tuple(Descriptor.parse(child, f"manifests[{i}]") for i, child in enumerate(children))
        return ParsedManifest(kind="index", children=parsed, media_type=media_type or OCI_INDEX,
                              **{k: v for k, v in common.items() if k != "media_type"})
    if media_type in DOCKER_SCHEMA1 or document.get("schemaVersion") == 1:
        return ParsedManifest(kind="other", architecture=str(document.get("architecture") or ""), **common)
    if "config" not in document:
        raise InvalidManifest("manifest has neither config nor manifests")
    config = Descriptor.parse(document["config"], "config")
    layers = document.get("layers") or []
    if not isinstance(layers, list):
        raise InvalidManifest("layers is not a list")
    parsed_layers = tuple(Descriptor.parse(layer, f"layers[{i}]") for i, layer in enumerate(layers))
    common["artifact_type"] = common["artifact_type"] or config.media_type
    kind = "image" if config.media_type in IMAGE_CONFIG_TYPES else "other"
    return ParsedManifest(kind=kind, config=config, layers=parsed_layers, **common)


def parse_config(body: bytes) -> dict[str, Any] | None:
    """The config blob as a JSON object, or None when it is not one."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 as Go writes it (nanoseconds, `Z`); None for anything else."""
    if not isinstance(value, str):
        return None
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
    try:
        parsed = datetime.fromisoformat(trimmed)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ImageFacts:
    os: str = ""
    architecture: str = ""
    variant: str = ""
    created: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)


def image_facts(config: dict[str, Any] | None) -> ImageFacts:
    if not config:
        return ImageFacts()
    runtime = config.get("config") if isinstance(config.get("config"), dict) else {}
    return ImageFacts(
        os=str(config.get("os") or "")[:32],
        architecture=str(config.get("architecture") or "")[:32],
        variant=str(config.get("variant") or "")[:32],
        created=parse_time(config.get("created")),
        labels=_string_map(runtime.get("Labels")),
    )


def runtime_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """What a container made from this image starts with: the `config` section, in snake case."""
    section = (config or {}).get("config")
    section = section if isinstance(section, dict) else {}
    ports = section.get("ExposedPorts")
    volumes = section.get("Volumes")
    return {
        "env": _string_list(section.get("Env")),
        "entrypoint": _string_list(section.get("Entrypoint")),
        "cmd": _string_list(section.get("Cmd")),
        "working_dir": str(section.get("WorkingDir") or ""),
        "user": str(section.get("User") or ""),
        "exposed_ports": sorted(ports) if isinstance(ports, dict) else [],
        "volumes": sorted(volumes) if isinstance(volumes, dict) else [],
        "labels": _string_map(section.get("Labels")),
        "stop_signal": str(section.get("StopSignal") or ""),
    }


def layers_with_history(layers: list[dict[str, Any]], config: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each layer descriptor with the history entry that made it.

    History entries marked `empty_layer` (ENV, CMD, …) made no layer; the others match the layers
    in order. Tools that write no history (or too little) leave the remaining layers without one.
    """
    history = (config or {}).get("history")
    entries = [h for h in history if isinstance(h, dict) and not h.get("empty_layer")] if isinstance(history, list) else []
    rootfs = (config or {}).get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) and isinstance(rootfs.get("diff_ids"), list) else []
    out = []
    for position, layer in enumerate(layers):
        made_by = entries[position] if position < len(entries) else {}
        out.append({
            "digest": layer.get("digest", ""),
            "media_type": layer.get("mediaType", ""),
            "size": layer.get("size", 0),
            "diff_id": diff_ids[position] if position < len(diff_ids) else "",
            "created_by": str(made_by.get("created_by") or ""),
            "created": made_by.get("created"),
            "comment": str(made_by.get("comment") or ""),
            "annotations": _string_map(layer.get("annotations")),
        })
    return out


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _string_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(item) for item in value]
