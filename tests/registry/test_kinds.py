"""Which kind each manifest is, from its media types alone (portal/artifacts/kinds.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portal.artifacts.kinds import Kind, classify, is_runnable
from portal.artifacts.manifests import parse_manifest

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY = {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "data": "e30=",
         "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}
SUBJECT = {"mediaType": MANIFEST, "digest": "sha256:" + "5" * 64, "size": 500}


def blob(media_type: str, fill: str = "1") -> dict[str, Any]:
    return {"mediaType": media_type, "digest": "sha256:" + fill * 64, "size": 10}


def manifest(config: dict[str, Any], *layer_types: str, **extra: Any) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "config": config,
                       "layers": [blob(t, str(i + 2)) for i, t in enumerate(layer_types)], **extra}).encode()


IMAGE_CONFIG = blob("application/vnd.oci.image.config.v1+json")
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

CASES = {
    "OCI image": (manifest(IMAGE_CONFIG, LAYER, LAYER), Kind.IMAGE),
    "Docker image": (json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": blob("application/vnd.docker.container.image.v1+json"),
        "layers": [blob("application/vnd.docker.image.rootfs.diff.tar.gzip", "2")]}).encode(), Kind.IMAGE),
    "image without layers": (manifest(IMAGE_CONFIG), Kind.IMAGE),
    "Helm chart": (manifest(blob("application/vnd.cncf.helm.config.v1+json"),
                            "application/vnd.cncf.helm.chart.content.v1.tar+gzip"), Kind.HELM_CHART),
    "cosign signature": (manifest(EMPTY, "application/vnd.dev.cosign.simplesigning.v1+json", subject=SUBJECT,
                                  artifactType="application/vnd.dev.cosign.artifact.sig.v1+json"), Kind.SIGNATURE),
    "cosign tag-scheme signature": (manifest(IMAGE_CONFIG, "application/vnd.dev.cosign.simplesigning.v1+json"),
                                    Kind.SIGNATURE),
    "notation signature": (manifest(EMPTY, "application/jose+json", subject=SUBJECT,
                                    artifactType="application/vnd.cncf.notary.signature"), Kind.SIGNATURE),
    "SPDX SBOM": (manifest(EMPTY, "application/spdx+json", artifactType="application/spdx+json"), Kind.SBOM),
    "CycloneDX SBOM as oras 1.0 attached it": (manifest(blob("application/vnd.cyclonedx+json"), "text/plain"),
                                               Kind.SBOM),
    "custom artifact": (manifest(blob("application/vnd.example.config.v1+json"), "text/plain"), Kind.ARTIFACT),
    "empty-config artifact without layers": (manifest(EMPTY, artifactType="application/vnd.example.thing"),
                                             Kind.ARTIFACT),
    "empty config, no artifactType": (manifest(EMPTY, "text/plain"), Kind.ARTIFACT),
    "image config with another artifactType": (manifest(IMAGE_CONFIG, LAYER, artifactType="application/x.wasm"),
                                               Kind.ARTIFACT),
    "BuildKit attestation": (manifest(IMAGE_CONFIG, "application/vnd.in-toto+json"), Kind.ARTIFACT),
}


@pytest.mark.parametrize("body, kind", CASES.values(), ids=CASES.keys())
def test_a_manifest_is_classified_by_its_media_types(body: bytes, kind: Kind) -> None:
    assert classify(parse_manifest(body)) == kind


def index(**extra: Any) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": [blob(MANIFEST, "7")], **extra}).encode()


@pytest.mark.parametrize("body, children, kind", [
    (index(), [Kind.IMAGE, Kind.ARTIFACT], Kind.IMAGE_INDEX),
    (index(), [], Kind.IMAGE_INDEX),
    (index(), [Kind.HELM_CHART], Kind.HELM_CHART),
    (index(subject=SUBJECT), [Kind.SBOM, Kind.SBOM], Kind.SBOM),
    (index(subject=SUBJECT), [Kind.SBOM, Kind.SIGNATURE], Kind.ARTIFACT),
    (index(subject=SUBJECT), [Kind.IMAGE], Kind.ARTIFACT),
    (index(artifactType="application/vnd.cncf.notary.signature"), [Kind.ARTIFACT], Kind.SIGNATURE),
], ids=["images", "children unknown", "charts", "SBOMs with a subject", "mixed with a subject",
        "images with a subject", "typed as a signature"])
def test_an_index_takes_its_kind_from_its_type_or_its_children(body: bytes, children: list[str], kind: Kind) -> None:
    assert classify(parse_manifest(body), children) == kind


def test_only_images_and_image_indexes_run() -> None:
    assert {kind for kind in Kind if is_runnable(kind)} == {Kind.IMAGE, Kind.IMAGE_INDEX}
