"""Deleting repositories and projects empties distribution's storage of them; /v2/ deletes obey the API's guards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portal.registry.distribution import DistributionNotFound
from tests.fixtures.registry import Berth
from tests.registry.test_registry_protocol import OCI_MANIFEST, client, error_of, sha256

ACCEPT = {"Accept": OCI_MANIFEST}


def _storage(berth: Berth, repository: str) -> Any:
    return berth.distribution.setup.data_dir / "docker" / "registry" / "v2" / "repositories" / repository


def test_a_project_created_again_under_a_deleted_name_starts_empty(
    berth: Berth, registry_user: Any, client_for: Any
) -> None:
    first_owner, first_creds = registry_user()
    assert client_for(first_owner).post("/api/v1/projects", {"name": "reborn"}, format="json").status_code == 201
    pusher = client(berth, first_creds, "reborn/x")
    layer = b"the first owner's private layer"
    body, digest = pusher.image("reborn/x", "v1", layer=layer)
    # Through distribution once, so its blob descriptor cache (were it on) would remember the link.
    assert pusher.request("GET", f"/v2/reborn/x/blobs/{sha256(layer)}", headers={"Range": "bytes=0-"}).status_code == 206
    upload = pusher.request("POST", "/v2/reborn/x/blobs/uploads/")
    assert upload.status_code == 202

    assert client_for(first_owner).delete("/api/v1/projects/reborn/repositories/x").status_code == 204
    assert client_for(first_owner).delete("/api/v1/projects/reborn").status_code == 204
    second_owner, second_creds = registry_user()
    assert client_for(second_owner).post("/api/v1/projects", {"name": "reborn"}, format="json").status_code == 201
    reader = client(berth, second_creds, "reborn/x")

    from_disk = reader.request("GET", f"/v2/reborn/x/blobs/{sha256(layer)}")
    from_distribution = reader.request("GET", f"/v2/reborn/x/blobs/{sha256(layer)}", headers={"Range": "bytes=0-"})
    head = reader.request("HEAD", f"/v2/reborn/x/blobs/{sha256(layer)}")
    by_digest = reader.request("GET", f"/v2/reborn/x/manifests/{digest}", headers=ACCEPT)
    by_tag = reader.request("GET", "/v2/reborn/x/manifests/v1", headers=ACCEPT)
    tags = reader.request("GET", "/v2/reborn/x/tags/list")
    resumed = reader.request("GET", upload.headers["location"])

    assert (from_disk.status_code, error_of(from_disk)["code"]) == (404, "BLOB_UNKNOWN")
    assert (from_distribution.status_code, error_of(from_distribution)["code"]) == (404, "BLOB_UNKNOWN")
    assert head.status_code == 404
    assert (by_digest.status_code, error_of(by_digest)["code"]) == (404, "MANIFEST_UNKNOWN")
    assert (by_tag.status_code, error_of(by_tag)["code"]) == (404, "MANIFEST_UNKNOWN")
    assert tags.status_code == 404
    assert (resumed.status_code, error_of(resumed)["code"]) == (404, "BLOB_UPLOAD_UNKNOWN")
    assert not _storage(berth, "reborn").exists()
    assert json.loads(body)["layers"][0]["digest"] == sha256(layer)


def test_a_repository_deleted_and_pushed_again_holds_only_the_new_push(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any
) -> None:
    owner, creds = registry_user()
    make_project("again", members={owner: "project_admin"})
    pusher = client(berth, creds, "again/app", "again/app/nested")
    old_layer = b"old layer"
    _, old_digest = pusher.image("again/app", "old", layer=old_layer)
    _, nested_digest = pusher.image("again/app/nested", "kept", layer=b"nested layer")

    assert client_for(owner).delete("/api/v1/projects/again/repositories/app").status_code == 204
    _, new_digest = pusher.image("again/app", "new", layer=b"new layer")

    assert pusher.request("GET", "/v2/again/app/tags/list").json()["tags"] == ["new"]
    assert pusher.request("GET", f"/v2/again/app/manifests/{old_digest}", headers=ACCEPT).status_code == 404
    assert pusher.request("GET", f"/v2/again/app/blobs/{sha256(old_layer)}").status_code == 404
    assert pusher.request("GET", f"/v2/again/app/manifests/{new_digest}", headers=ACCEPT).status_code == 200
    # A repository below the deleted one is a repository of its own, and stays.
    assert pusher.request("GET", f"/v2/again/app/nested/manifests/{nested_digest}", headers=ACCEPT).status_code == 200
    assert pusher.request("GET", "/v2/again/app/nested/tags/list").json()["tags"] == ["kept"]


def test_distribution_is_configured_without_its_blob_descriptor_cache(berth: Berth) -> None:
    config = berth.distribution.setup.config()

    assert "cache" not in config["storage"]


# --- /v2/ deletes decide as the API's do ------------------------------------------------------------------------

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _crew(registry_user: Any, make_project: Any, name: str) -> tuple[tuple[str, str], Any, Any]:
    """A project with a developer (pushes) and a maintainer (deletes): (developer creds, maintainer, project)."""
    developer, developer_creds = registry_user()
    maintainer, _ = registry_user()
    project = make_project(name, members={developer: "developer", maintainer: "maintainer"})
    return developer_creds, maintainer, project


def _run(project: Any, repository: str, digest: str, status: str = "running") -> Any:
    from portal.fleet.models import Container

    return Container.objects.create(project=project, host_name="node-a", name="web", repository=repository,
                                    reference="v1", digest=digest, status=status, created_by="tests")


def test_v2_refuses_deleting_what_a_container_runs_as_the_api_does(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any
) -> None:
    from portal.artifacts.models import Artifact
    from portal.audit.models import AuditEntry
    from tests.fixtures.portal import PASSWORD

    developer, maintainer, project = _crew(registry_user, make_project, "guarded")
    _, digest = client(berth, developer, "guarded/web").image("guarded/web", "v1")
    container = _run(project, "guarded/web", digest)
    deleter = client(berth, (maintainer.username, PASSWORD), "guarded/web", actions="pull,delete")

    through_v2 = deleter.request("DELETE", f"/v2/guarded/web/manifests/{digest}")
    through_api = client_for(maintainer).delete(f"/api/v1/projects/guarded/repositories/web/artifacts/{digest}")

    message = (f"artifact {digest} is running in 1 container(s) (web on node-a); "
               "stop them first or delete with force=true")
    assert through_api.status_code == 409
    assert through_api.json()["errors"][0] == {"code": "artifact_in_use", "message": message}
    assert through_v2.status_code == 409
    assert error_of(through_v2) == {"code": "DENIED", "message": message, "detail": {"reason": "artifact_in_use"}}
    assert deleter.request("GET", f"/v2/guarded/web/manifests/{digest}", headers=ACCEPT).status_code == 200
    assert berth.direct().head_manifest("guarded/web", digest)[0] == digest
    assert Artifact.objects.filter(repository__name="guarded/web", digest=digest).exists()

    container.status = "exited"
    container.save()
    deleted = deleter.request("DELETE", f"/v2/guarded/web/manifests/{digest}")

    assert deleted.status_code == 202
    assert deleter.request("GET", f"/v2/guarded/web/manifests/{digest}", headers=ACCEPT).status_code == 404
    assert not Artifact.objects.filter(repository__name="guarded/web").exists()
    assert AuditEntry.objects.filter(action="delete", resource=f"guarded/web@{digest}",
                                     actor=maintainer.username).count() == 1


def test_v2_refuses_deleting_a_child_of_an_index_and_deletes_the_index_with_its_children(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any
) -> None:
    from tests.fixtures.portal import PASSWORD

    developer, maintainer, _ = _crew(registry_user, make_project, "indexed")
    pusher = client(berth, developer, "indexed/multi")
    amd64_body, amd64 = pusher.image("indexed/multi", "amd64-build", layer=b"amd64")
    arm64_body, arm64 = pusher.image("indexed/multi", "arm64-build", layer=b"arm64")
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": amd64, "size": len(amd64_body),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": arm64, "size": len(arm64_body),
         "platform": {"os": "linux", "architecture": "arm64"}},
    ]}).encode()
    assert pusher.request("PUT", "/v2/indexed/multi/manifests/1.0", content=index,
                          headers={"Content-Type": OCI_INDEX}).status_code == 201
    deleter = client(berth, (maintainer.username, PASSWORD), "indexed/multi", actions="pull,delete")
    for tag in ("amd64-build", "arm64-build"):
        assert deleter.request("DELETE", f"/v2/indexed/multi/manifests/{tag}").status_code == 202

    child_through_v2 = deleter.request("DELETE", f"/v2/indexed/multi/manifests/{arm64}")
    child_through_api = client_for(maintainer).delete(f"/api/v1/projects/indexed/repositories/multi/artifacts/{arm64}")

    message = f"artifact {arm64} is part of index {sha256(index)}: delete the index instead"
    assert child_through_api.status_code == 409
    assert child_through_api.json()["errors"][0] == {"code": "artifact_in_index", "message": message}
    assert child_through_v2.status_code == 409
    assert error_of(child_through_v2) == {"code": "DENIED", "message": message,
                                          "detail": {"reason": "artifact_in_index"}}
    assert deleter.request("GET", f"/v2/indexed/multi/manifests/{arm64}", headers=ACCEPT).status_code == 200

    deleted = deleter.request("DELETE", f"/v2/indexed/multi/manifests/{sha256(index)}")

    assert deleted.status_code == 202
    for digest in (sha256(index), amd64, arm64):
        assert deleter.request("GET", f"/v2/indexed/multi/manifests/{digest}",
                               headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}).status_code == 404
    assert client_for(maintainer).get("/api/v1/projects/indexed/repositories/multi").json()["artifact_count"] == 0


def test_v2_deletes_a_manifest_berth_never_indexed_straight_from_distribution(
    berth: Berth, registry_user: Any, make_project: Any
) -> None:
    from tests.fixtures.portal import PASSWORD

    developer, maintainer, _ = _crew(registry_user, make_project, "around")
    config = client(berth, developer, "around/side").upload("around/side", b"{}")
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": []}
    body = json.dumps(document).encode()
    digest = berth.direct().put_manifest("around/side", "side", body, OCI_MANIFEST)
    deleter = client(berth, (maintainer.username, PASSWORD), "around/side", actions="pull,delete")

    deleted = deleter.request("DELETE", f"/v2/around/side/manifests/{digest}")
    again = deleter.request("DELETE", f"/v2/around/side/manifests/{digest}")

    assert deleted.status_code == 202
    with pytest.raises(DistributionNotFound):
        berth.direct().head_manifest("around/side", digest)
    assert (again.status_code, error_of(again)["code"]) == (404, "MANIFEST_UNKNOWN")
