"""Garbage collection with distribution on a real S3 server (SeaweedFS): the objects of what only a deleted
image used are gone from the bucket, shared layers stay, the survivor pulls back identical."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from portal.registry.distribution import DistributionClient
from portal.registry.storage import S3Storage as RepositoryS3Storage
from tests.registry.test_s3_storage import s3_distribution, skopeo_copy  # noqa: F401 - the fixture
from tests.support.images import File, ImageSpec, write_layout
from tests.support.seaweedfs import ACCESS_KEY, SECRET_KEY

BLOBS = "registry-under-test/docker/registry/v2/blobs/sha256/"


def _layout(path: Path, *layers: bytes) -> Path:
    return write_layout(path, {"v1": [ImageSpec([[File(f"f{i}", data)] for i, data in enumerate(layers)])]})


def _digests(layout: Path) -> set[str]:
    return {f"sha256:{p.name}" for p in (layout / "blobs" / "sha256").iterdir()}


def _stored(store: Any) -> dict[str, int]:
    client = store.client()
    sizes = {}
    for key in store.keys(BLOBS):
        if key.endswith("/data"):
            sizes["sha256:" + key.split("/")[-2]] = client.head_object(Bucket=store.bucket, Key=key)["ContentLength"]
    return sizes


@pytest.mark.django_db(transaction=True)
def test_gc_on_s3_deletes_the_objects_only_a_deleted_image_used(
        s3_distribution: Any, tmp_path: Path, make_project: Any, settings: Any) -> None:  # noqa: F811
    from portal.artifacts.services import delete_artifact, reconcile
    from portal.storage.gc import GarbageCollector, execute
    from portal.storage.models import GCRun

    settings.GC_GRACE_SECONDS = 0
    store, setup = s3_distribution
    credentials = f"{setup.username}:{setup.password}"
    shared, own_a, own_b = os.urandom(200_000), os.urandom(50_000), os.urandom(80_000)
    image_a, image_b = _layout(tmp_path / "a", shared, own_a), _layout(tmp_path / "b", shared, own_b)
    skopeo_copy(f"oci:{image_a}:v1", f"docker://{setup.listen}/alpha/app:v1", credentials, dest_side=True)
    skopeo_copy(f"oci:{image_b}:v1", f"docker://{setup.listen}/beta/app:v1", credentials, dest_side=True)
    make_project("alpha")
    beta = make_project("beta")
    direct = DistributionClient(setup.url, (setup.username, setup.password))
    reconcile(client=direct)  # the pushes went around Berth: reconcile indexes them, blobs included
    storage = RepositoryS3Storage(store.bucket, "us-east-1", store.endpoint, ACCESS_KEY, SECRET_KEY,
                                  "/registry-under-test")
    delete_artifact(GarbageCollector(), beta, "app", "v1", client=direct)
    before = _stored(store)
    only_b = _digests(image_b) - _digests(image_a)

    dry = execute(GCRun.objects.create(dry_run=True, requested_by="tests").pk, client=direct, storage=storage)
    run = execute(GCRun.objects.create(requested_by="tests").pk, client=direct, storage=storage)

    after = _stored(store)
    assert dry is not None and run is not None and run.status == "succeeded", run and run.errors
    assert set(before) - set(after) == only_b
    freed = sum(before[digest] for digest in only_b)
    assert (run.blobs_deleted, run.bytes_freed) == (3, freed)
    assert (dry.blobs_deleted, dry.bytes_freed, dry.report) == (run.blobs_deleted, run.bytes_freed, run.report)
    assert not [key for key in store.keys("registry-under-test/docker/registry/v2/repositories/beta/app/_layers/")
                if key.split("/")[-2] in {digest[7:] for digest in only_b}]
    skopeo_copy(f"docker://{setup.listen}/alpha/app:v1", f"oci:{tmp_path / 'back'}:v1", credentials, dest_side=False)
    pulled = {p.name: p.read_bytes() for p in (tmp_path / "back" / "blobs" / "sha256").iterdir()}
    assert pulled == {p.name: p.read_bytes() for p in (image_a / "blobs" / "sha256").iterdir()}
