"""distribution, configured by Berth for S3 storage, keeps images in a real S3 server (SeaweedFS); Berth removes
a deleted repository's keys from it."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from portal.registry.distribution import DistributionProcess, DistributionSetup, S3Storage
from portal.registry.storage import S3Storage as RepositoryS3Storage
from portal.registry.storage import StorageError
from tests.support.distribution import free_port
from tests.support.images import File, ImageSpec, write_layout
from tests.support.seaweedfs import ACCESS_KEY, SECRET_KEY, running_seaweedfs

SKOPEO = "/usr/bin/skopeo"


def skopeo_copy(source: str, dest: str, credentials: str, *, dest_side: bool) -> None:
    flag = "--dest-creds" if dest_side else "--src-creds"
    tls = "--dest-tls-verify=false" if dest_side else "--src-tls-verify=false"
    subprocess.run([SKOPEO, "--insecure-policy", "copy", "--quiet", tls, flag, credentials, source, dest],
                   check=True, capture_output=True, timeout=120)


@pytest.fixture
def s3_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Set as on hosts that export it globally: distribution's S3 driver panics if it reaches the process.
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    with running_seaweedfs(tmp_path / "seaweedfs") as store:
        setup = DistributionSetup(
            listen=f"127.0.0.1:{free_port()}", data_dir=tmp_path / "unused", config_dir=tmp_path / "distribution",
            username="berth", password=secrets.token_urlsafe(24),
            s3=S3Storage(bucket=store.bucket, endpoint=store.endpoint, access_key=ACCESS_KEY,
                         secret_key=SECRET_KEY, root="/registry-under-test"),
        )
        process = DistributionProcess(setup)
        process.start(timeout=30)
        try:
            yield store, setup
        finally:
            process.stop()
    assert process.process is not None and process.process.poll() is not None
    assert store.process.poll() is not None, "SeaweedFS is left running"
    assert not store.root.exists()


def test_an_image_pushed_to_s3_storage_lives_in_the_bucket_and_pulls_back_identical(s3_distribution, tmp_path):
    store, setup = s3_distribution
    layout = write_layout(tmp_path / "layout", {"v1": [ImageSpec([[File("hello.txt", b"stored in S3\n")]])]})
    credentials = f"{setup.username}:{setup.password}"
    skopeo_copy(f"oci:{layout}:v1", f"docker://{setup.listen}/team/app:v1", credentials, dest_side=True)

    keys = store.keys("registry-under-test/")
    assert any(key.endswith("/_manifests/tags/v1/current/link") for key in keys)
    blob_keys = [key for key in keys if key.startswith("registry-under-test/docker/registry/v2/blobs/sha256/")]
    assert len(blob_keys) == 3, "config, one layer and the manifest"
    assert not (tmp_path / "unused").exists(), "nothing was written to the filesystem root"

    skopeo_copy(f"docker://{setup.listen}/team/app:v1", f"oci:{tmp_path / 'back'}:v1", credentials, dest_side=False)
    pushed = {p.name: p.read_bytes() for p in (layout / "blobs" / "sha256").iterdir()}
    pulled = {p.name: p.read_bytes() for p in (tmp_path / "back" / "blobs" / "sha256").iterdir()}
    assert pulled == pushed


def test_removing_a_repository_from_s3_leaves_nested_and_neighbouring_repositories_and_the_blobs(
        s3_distribution, tmp_path):
    store, setup = s3_distribution
    layout = write_layout(tmp_path / "layout", {"v1": [ImageSpec([[File("a.txt", b"a\n")]])]})
    credentials = f"{setup.username}:{setup.password}"
    for repository in ("team/app", "team/app/nested", "team/other"):
        skopeo_copy(f"oci:{layout}:v1", f"docker://{setup.listen}/{repository}:v1", credentials, dest_side=True)
    repositories = "registry-under-test/docker/registry/v2/repositories/"
    blobs = store.keys("registry-under-test/docker/registry/v2/blobs/")
    storage = RepositoryS3Storage(store.bucket, "us-east-1", store.endpoint, ACCESS_KEY, SECRET_KEY,
                                  "/registry-under-test")

    storage.remove_repository("team/app")
    left = store.keys(repositories)
    assert not [key for key in left if key.startswith(f"{repositories}team/app/_")]
    assert any(key.startswith(f"{repositories}team/app/nested/_manifests/") for key in left)
    assert any(key.startswith(f"{repositories}team/other/_layers/") for key in left)
    assert store.keys("registry-under-test/docker/registry/v2/blobs/") == blobs

    storage.remove_project("team")
    assert store.keys(repositories) == []


def test_s3_refusing_the_removal_says_why_and_keeps_everything(s3_distribution, tmp_path):
    store, setup = s3_distribution
    layout = write_layout(tmp_path / "layout", {"v1": [ImageSpec([[File("a.txt", b"a\n")]])]})
    skopeo_copy(f"oci:{layout}:v1", f"docker://{setup.listen}/team/app:v1", f"{setup.username}:{setup.password}",
                dest_side=True)
    before = store.keys()
    wrong = RepositoryS3Storage(store.bucket, "us-east-1", store.endpoint, ACCESS_KEY, "not-the-secret",
                                "/registry-under-test")
    with pytest.raises(StorageError, match=f"S3 bucket {store.bucket} refused or failed the removal"):
        wrong.remove_project("team")
    assert store.keys() == before
