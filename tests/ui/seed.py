"""Puts images into Berth's artifact index through its services, as a push would (no registry needed)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from portal.accounts.models import User
from portal.artifacts import services
from portal.artifacts.models import Artifact
from portal.rbac.principals import UserPrincipal

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class BlobStore:
    """Stands in for distribution where the index reads an image's config after a push."""

    blobs: dict[str, bytes] = field(default_factory=dict)

    def add(self, data: bytes) -> str:
        digest = digest_of(data)
        self.blobs[digest] = data
        return digest

    def get_blob(self, repository: str, digest: str, max_bytes: int = 0) -> bytes:
        return self.blobs[digest]

    def get_manifest(self, repository: str, reference: str, accept: str = "") -> tuple[bytes, str, str]:
        raise AssertionError("the seeded images are single-platform")


def image_config(arch: str = "amd64") -> dict[str, Any]:
    return {
        "architecture": arch,
        "os": "linux",
        "created": "2026-11-20T10:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_MODE=production"],
            "Entrypoint": ["/bin/app"],
            "Cmd": ["--serve"],
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"org.opencontainers.image.title": "demo app"},
            "WorkingDir": "/srv",
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
        "history": [
            {"created": "2026-11-20T09:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:busybox in / "},
            {"created": "2026-11-20T09:30:00Z", "created_by": "/bin/sh -c apk add --no-cache curl"},
            {"created": "2026-11-20T09:40:00Z", "created_by": '/bin/sh -c #(nop)  CMD ["--serve"]', "empty_layer": True},
        ],
    }


def seed_image(user: User, repository: str, tags: list[str], *, salt: str = "") -> Artifact:
    """Indexes a two-layer image in `repository` (`project/name`) and points each tag at it."""
    store = BlobStore()
    config = json.dumps(image_config(), sort_keys=True).encode()
    layers = [f"layer one {salt}".encode() * 2000, f"layer two {salt}".encode() * 50000]
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": store.add(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": store.add(layer), "size": len(layer)} for layer in layers],
    }
    body = json.dumps(document, sort_keys=True).encode()
    digest = digest_of(body)
    principal = UserPrincipal(user)
    artifact = None
    for tag in tags:
        artifact = services.record_manifest_push(principal, repository, tag, digest, OCI_MANIFEST, body,
                                                 client=store)  # type: ignore[arg-type]
    assert artifact is not None
    return artifact
