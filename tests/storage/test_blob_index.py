"""The blob index is written as part of each push (upload completion, mount, manifest) and repaired by reconcile."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.registry import Berth
from tests.registry.test_registry_protocol import OCI_MANIFEST, client, sha256

CONFIG = json.dumps({"architecture": "amd64", "os": "linux"}).encode()


@pytest.fixture
def developer(registry_user: Any, make_project: Any) -> tuple[Any, tuple[str, str], Any]:
    user, creds = registry_user()
    project = make_project("proto", members={user: "developer"})
    return user, creds, project


def _uses(repository: str) -> set[tuple[str, str, int]]:
    from portal.storage.models import ArtifactBlob

    return set(ArtifactBlob.objects.filter(artifact__repository__name=repository).values_list(
        "role", "blob__digest", "blob__size"))


def _links(repository: str) -> set[str]:
    from portal.storage.models import RepositoryBlob

    return set(RepositoryBlob.objects.filter(repository__name=repository).values_list("blob__digest", flat=True))


def test_a_push_indexes_its_blobs_with_their_sizes_links_and_uses(berth: Berth, developer: Any) -> None:
    from portal.storage.models import Blob

    _, creds, _ = developer
    pusher = client(berth, creds, "proto/app")
    layer = b"a layer of twenty-six bytes"

    body, digest = pusher.image("proto/app", "v1", layer=layer)

    assert _uses("proto/app") == {("manifest", digest, len(body)), ("config", sha256(CONFIG), len(CONFIG)),
                                  ("layer", sha256(layer), len(layer))}
    assert _links("proto/app") == {digest, sha256(CONFIG), sha256(layer)}
    blob = Blob.objects.get(digest=sha256(layer))
    assert (blob.size, blob.media_type, blob.status) == (len(layer), "application/vnd.oci.image.layer.v1.tar",
                                                         "present")
    assert blob.first_uploaded_at <= blob.pushed_at


def test_an_upload_completion_indexes_the_blob_before_any_manifest_uses_it(berth: Berth, developer: Any) -> None:
    from portal.storage.models import Blob

    _, creds, _ = developer
    pusher = client(berth, creds, "proto/app")
    pusher.image("proto/app", "v1")
    data = b"uploaded, its manifest not pushed yet"

    pusher.upload("proto/app", data)

    assert Blob.objects.filter(digest=sha256(data)).values_list("size", flat=True).get() == len(data)
    assert sha256(data) in _links("proto/app")
    assert sha256(data) not in {digest for _, digest, _ in _uses("proto/app")}


def test_a_cross_repository_mount_links_the_blob_into_the_target(berth: Berth, developer: Any) -> None:
    _, creds, _ = developer
    pusher = client(berth, creds, "proto/source", "proto/target")
    pusher.image("proto/source", "v1", layer=b"mounted layer")
    pusher.image("proto/target", "v1", layer=b"target's own layer")

    mounted = pusher.request("POST", f"/v2/proto/target/blobs/uploads/?mount={sha256(b'mounted layer')}"
                                     "&from=proto/source")

    assert mounted.status_code == 201, mounted.text
    assert sha256(b"mounted layer") in _links("proto/target")


def test_reconcile_repairs_the_index_from_what_distribution_holds(berth: Berth, developer: Any) -> None:
    from portal.artifacts.services import reconcile
    from portal.storage.models import ArtifactBlob, RepositoryBlob

    _, creds, _ = developer
    pusher = client(berth, creds, "proto/app")
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    body, digest = pusher.image("proto/app", "v1", layer=b"to repair")
    index["manifests"] = [{"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body)}]
    index_body = json.dumps(index).encode()
    assert pusher.request("PUT", "/v2/proto/app/manifests/multi", content=index_body,
                          headers={"Content-Type": index["mediaType"]}).status_code == 201
    before, links = _uses("proto/app"), _links("proto/app")
    ArtifactBlob.objects.all().delete()
    RepositoryBlob.objects.all().delete()

    reconcile(client=berth.direct())

    assert _uses("proto/app") == before
    # An index references its own bytes only: its children are artifacts with their own rows.
    assert ("manifest", sha256(index_body), len(index_body)) in before
    assert len(before) == 4
    assert _links("proto/app") == links


def test_deleting_a_repository_removes_its_links(berth: Berth, developer: Any, client_for: Any) -> None:
    from portal.storage.models import ArtifactBlob, RepositoryBlob

    user, creds, project = developer
    project.members.filter(user=user).update(role="maintainer")
    pusher = client(berth, creds, "proto/app", "proto/other")
    pusher.image("proto/app", "v1", layer=b"shared")
    pusher.image("proto/other", "v1", layer=b"shared")

    assert client_for(user).delete("/api/v1/projects/proto/repositories/app").status_code == 204

    assert not RepositoryBlob.objects.filter(repository__name="proto/app").exists()
    assert not ArtifactBlob.objects.filter(artifact__repository__name="proto/app").exists()
    assert sha256(b"shared") in _links("proto/other")
