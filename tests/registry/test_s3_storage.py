"""distribution, configured by Berth for S3 storage, keeps images in a real S3 server (SeaweedFS)."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from portal.registry.distribution import DistributionProcess, DistributionSetup, S3Storage
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
