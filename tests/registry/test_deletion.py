"""Deleting repositories and projects empties distribution's storage of them; /v2/ deletes obey the API's guards."""

from __future__ import annotations

import json
from typing import Any

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
