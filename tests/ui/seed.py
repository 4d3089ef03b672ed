"""Puts images into Berth's artifact index through its services, as a push would (no registry needed),
and fleet rows as hosts' reports would leave them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone

from portal.accounts.models import User
from portal.artifacts import services
from portal.artifacts.models import Artifact
from portal.fleet.models import Container, Host
from portal.projects.models import Project
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


def seed_artifact(user: User, repository: str, reference: str, *, config_type: str, layer_type: str,
                  artifact_type: str = "", subject: Artifact | None = None) -> Artifact:
    """Indexes a one-layer OCI artifact (a chart, a signature, an SBOM…), attached to `subject` if given."""
    store = BlobStore()
    config = b"{}" if config_type == "application/vnd.oci.empty.v1+json" else b'{"name": "seeded"}'
    layer = f"{reference} {layer_type}".encode()
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config_type, "digest": store.add(config), "size": len(config)},
        "layers": [{"mediaType": layer_type, "digest": store.add(layer), "size": len(layer)}],
    }
    if artifact_type:
        document["artifactType"] = artifact_type
    if subject is not None:
        document["subject"] = {"mediaType": subject.media_type, "digest": subject.digest, "size": len(subject.manifest)}
    body = json.dumps(document, sort_keys=True).encode()
    digest = digest_of(body)
    return services.record_manifest_push(UserPrincipal(user), repository, reference if subject is None else digest,
                                         digest, OCI_MANIFEST, body, client=store)  # type: ignore[arg-type]


def seed_fleet(project: Project) -> None:
    """Two hosts as their heartbeats would leave them, and containers of `project` in a few states."""
    now = timezone.now()
    facts = {"cpus": 4, "memory_bytes": 8 * 2**30, "memory_available_bytes": 5 * 2**30, "disk_bytes": 100 * 2**30,
             "disk_free_bytes": 60 * 2**30, "containers_running": 1, "load_1m": 0.42}
    online = Host.objects.create(name="node-1", address="http://127.0.0.1:1", public_key="a" * 43, facts=facts,
                                 labels={"zone": "a"}, last_heartbeat_at=now)
    Host.objects.create(name="node-2", address="http://127.0.0.1:2", public_key="b" * 43,
                        facts={**facts, "containers_running": 0}, last_heartbeat_at=now - timedelta(hours=1))
    repository = f"{project.name}/frontend"
    common = {"project": project, "host": online, "host_name": online.name, "repository": repository,
              "reference": "latest", "digest": "sha256:" + "c" * 64, "created_by": "root"}
    Container.objects.create(name="frontend-1", status="running", started_at=now,
                             spec={"ports": [{"host_ip": "", "host_port": 8080, "container_port": 80}]}, **common)
    Container.objects.create(name="frontend-2", status="pulling",
                             progress={"bytes_done": 3 * 2**20, "bytes_total": 8 * 2**20, "layers": 2}, **common)
    Container.objects.create(name="frontend-old", status="exited", exit_code=137, oom_killed=True, **common)
