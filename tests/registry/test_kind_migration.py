"""Migration 0006 gives artifacts indexed before kinds existed the kind their stored manifests say."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("artifacts", "0005_artifact_tag_count")]
AFTER = [("artifacts", "0006_artifact_kind")]
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def descriptor(media_type: str, fill: str) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": "sha256:" + fill * 64, "size": 3}


def document(config_type: str, layer_type: str, **extra: Any) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "config": descriptor(config_type, "1"),
                       "layers": [descriptor(layer_type, "2")], **extra}).encode()


@pytest.mark.django_db(transaction=True)
def test_existing_rows_are_classified_from_their_manifests() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    # The project through today's model: the projects app's own later migrations (columns without a database
    # default) stay applied while artifacts goes back, so its state as of artifacts 0005 would not fit the table.
    from portal.projects.models import Project

    project = Project.objects.create(name="old")
    repository = apps.get_model("artifacts", "Repository").objects.create(project_id=project.id, name="old/mixed")
    Artifact = apps.get_model("artifacts", "Artifact")
    now = timezone.now()

    def row(digest_fill: str, body: bytes, media_type: str = MANIFEST, **fields: Any) -> Any:
        return Artifact.objects.create(repository=repository, digest="sha256:" + digest_fill * 64, media_type=media_type,
                                       manifest=body, pushed_at=now, **fields)

    image = row("a", document("application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar"))
    chart = row("b", document("application/vnd.cncf.helm.config.v1+json",
                              "application/vnd.cncf.helm.chart.content.v1.tar+gzip"))
    signature = row("c", document("application/vnd.oci.empty.v1+json", "application/jose+json",
                                  artifactType="application/vnd.cncf.notary.signature"),
                    artifact_type="application/vnd.cncf.notary.signature", subject_digest=image.digest)
    charts = row("d", json.dumps({"schemaVersion": 2, "mediaType": INDEX,
                                  "manifests": [descriptor(MANIFEST, "b")]}).encode(), INDEX)
    apps.get_model("artifacts", "ArtifactReference").objects.create(parent=charts, child=chart)
    unreadable = row("e", b"not json")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    migrated = executor.loader.project_state(AFTER).apps.get_model("artifacts", "Artifact")
    kinds = dict(migrated.objects.values_list("id", "kind"))

    assert kinds == {image.id: "image", chart.id: "helm_chart", signature.id: "signature", charts.id: "helm_chart",
                     unreadable.id: "image"}
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
