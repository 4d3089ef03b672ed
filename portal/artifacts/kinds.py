"""What an artifact is (image, image index, Helm chart, signature, SBOM or another artifact): pure functions."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models

from portal.artifacts.manifests import DOCKER_SCHEMA1, IMAGE_CONFIG_TYPES, ParsedManifest


class Kind(models.TextChoices):
    IMAGE = "image", "image"
    IMAGE_INDEX = "image_index", "image index"
    HELM_CHART = "helm_chart", "Helm chart"
    SIGNATURE = "signature", "signature"
    SBOM = "sbom", "SBOM"
    ARTIFACT = "artifact", "artifact"


# What a host can run: an image, or an index the agent picks its platform's image from.
RUNNABLE_KINDS = frozenset({Kind.IMAGE, Kind.IMAGE_INDEX})

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
SIGNATURE_TYPES = frozenset({
    "application/vnd.dev.cosign.artifact.sig.v1+json",
    "application/vnd.cncf.notary.signature",
    "application/vnd.dev.sigstore.bundle+json",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    # cosign's tag-scheme signatures (`sha256-….sig`) are image manifests whose layers are of this type.
    "application/vnd.dev.cosign.simplesigning.v1+json",
})
SBOM_TYPE_PREFIXES = ("application/spdx", "text/spdx", "application/vnd.cyclonedx", "application/vnd.syft")
# Layers a container's root filesystem is made of; an image-config manifest with other layers is an
# artifact that borrowed the image config (cosign's tag-scheme signatures, BuildKit's attestations).
FILESYSTEM_LAYER_PREFIXES = ("application/vnd.oci.image.layer.", "application/vnd.docker.image.rootfs.")


def kind_of_type(media_type: str) -> Kind | None:
    """The kind an `artifactType` (or a config or layer media type) names, when it names one."""
    if media_type in SIGNATURE_TYPES:
        return Kind.SIGNATURE
    if media_type.startswith(SBOM_TYPE_PREFIXES):
        return Kind.SBOM
    if media_type == HELM_CONFIG:
        return Kind.HELM_CHART
    return None


def classify(parsed: ParsedManifest, child_kinds: Iterable[str] = ()) -> Kind:
    """The kind of a parsed manifest; an index's kind follows its children (`child_kinds`) when they agree."""
    named = kind_of_type(parsed.artifact_type)
    if named is not None:
        return named
    if parsed.kind == "index":
        return _index_kind(parsed, set(child_kinds))
    if parsed.media_type in DOCKER_SCHEMA1:
        return Kind.IMAGE
    if parsed.config is None or parsed.config.media_type not in IMAGE_CONFIG_TYPES:
        return Kind.ARTIFACT
    # An `artifactType` other than the image config's own says the author meant something else than an image.
    if parsed.artifact_type not in IMAGE_CONFIG_TYPES:
        return Kind.ARTIFACT
    layer_types = {layer.media_type for layer in parsed.layers}
    if all(media_type.startswith(FILESYSTEM_LAYER_PREFIXES) for media_type in layer_types):
        return Kind.IMAGE
    borrowed = {kind_of_type(media_type) for media_type in layer_types}
    only = borrowed.pop() if len(borrowed) == 1 else None
    return only or Kind.ARTIFACT


def _index_kind(parsed: ParsedManifest, child_kinds: set[str]) -> Kind:
    if parsed.artifact_type or parsed.subject_digest:
        # An index with a type or a subject is an artifact packaged as an index, not a multi-platform image.
        return _agreed(child_kinds) or Kind.ARTIFACT
    if child_kinds & RUNNABLE_KINDS or not child_kinds:
        return Kind.IMAGE_INDEX
    return _agreed(child_kinds) or Kind.ARTIFACT


def _agreed(child_kinds: set[str]) -> Kind | None:
    if len(child_kinds) == 1:
        only = Kind(next(iter(child_kinds)))
        return None if only in RUNNABLE_KINDS else only
    return None


def is_runnable(kind: str) -> bool:
    return kind in RUNNABLE_KINDS
