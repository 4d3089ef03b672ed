"""Helpers of the fleet's portal tests: joined hosts with a key to sign as them, indexed artifacts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from runtime_agent.agent.signing import Signer, new_private_key, public_key_text


@dataclass
class JoinedHost:
    """A host joined through the API, and a signer holding its private key."""

    id: str
    name: str
    signer: Signer

    def heartbeat(self, client: APIClient, report: dict[str, Any] | None = None, header: str | None = None) -> Any:
        body = json.dumps(report or {"facts": FACTS, "containers": []}).encode()
        header = header or self.signer.header("portal", "POST", "/api/v1/hosts/heartbeat", body)
        return client.post("/api/v1/hosts/heartbeat", data=body, content_type="application/json",
                           HTTP_AUTHORIZATION=header)


FACTS = {"cpus": 4, "memory_bytes": 8 * 2**30, "memory_available_bytes": 6 * 2**30, "disk_bytes": 100 * 2**30,
         "disk_free_bytes": 50 * 2**30, "kernel": "6.1.0", "cgroup_version": 2, "containers_running": 0}


def join(client: APIClient, token: str, name: str, labels: dict[str, str] | None = None,
         address: str = "http://127.0.0.1:9") -> Any:
    key = new_private_key()
    response = client.post("/api/v1/hosts/join", {
        "token": token, "name": name, "labels": labels or {}, "address": address, "facts": FACTS,
        "public_key": public_key_text(key),
    }, format="json")
    if response.status_code == 201:
        response.joined = JoinedHost(response.json()["id"], name, Signer(key, response.json()["id"]))
    return response


def index_artifact(project: Any, repository: str, tag: str = "latest", missing_config: bool = False) -> Any:
    """An artifact row as the registry proxy would index it on push (with a manifest whose config
    blob exists nowhere, when `missing_config`)."""
    import hashlib
    import os

    from portal.artifacts.models import Artifact, Repository, Tag

    repo, _ = Repository.objects.get_or_create(project=project, name=f"{project.name}/{repository}")
    manifest = b"{}"
    if missing_config:
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": [],
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                       "digest": "sha256:" + hashlib.sha256(os.urandom(8)).hexdigest()},
        }).encode()
    digest = "sha256:" + hashlib.sha256(manifest + repo.name.encode() + tag.encode()).hexdigest()
    if missing_config:
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    artifact = Artifact.objects.create(repository=repo, digest=digest, media_type="application/vnd.oci.image.manifest.v1+json",
                                       manifest=manifest, size=1, pushed_at=timezone.now())
    Tag.objects.create(repository=repo, name=tag, artifact=artifact, pushed_at=timezone.now())
    return artifact


class NamedPusher:
    """The principal a push is recorded under, known by name only."""

    kind = "user"
    is_authenticated = True

    def __init__(self, name: str) -> None:
        self.name = self.audit_name = name
