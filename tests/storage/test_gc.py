"""Online garbage collection against a real distribution, with images pushed and pulled by skopeo."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.registry import Berth
from tests.registry.test_registry_protocol import client, error_of, sha256
from tests.support.images import File, ImageSpec, write_layout


@pytest.fixture(autouse=True)
def no_grace(settings: Any) -> None:
    settings.GC_GRACE_SECONDS = 0
    # What the time machine keeps is tested with it (tests/policies/test_time_machine.py); here it is off, so
    # an untagged manifest is garbage the moment its tag moves.
    settings.TAG_HISTORY_DAYS = 0


@pytest.fixture
def crew(registry_user: Any, make_project: Any) -> dict[str, Any]:
    """Projects alpha and beta, each with a maintainer who pushes and deletes."""
    people = {}
    for name in ("alpha", "beta"):
        user, creds = registry_user()
        make_project(name, members={user: "maintainer"})
        people[name] = (user, creds)
    return people


def _layout(path: Path, *layers: bytes) -> Path:
    return write_layout(path, {"latest": [ImageSpec([[File(f"f{i}", data)] for i, data in enumerate(layers)])]})


def _blobs_on_disk(berth: Berth) -> dict[str, int]:
    root = berth.distribution.setup.data_dir / "docker" / "registry" / "v2" / "blobs" / "sha256"
    return {f"sha256:{path.parent.name}": path.stat().st_size for path in root.glob("*/*/data")}


def _layout_blobs(layout: Path) -> dict[str, bytes]:
    return {f"sha256:{p.name}": p.read_bytes() for p in (layout / "blobs" / "sha256").iterdir()}


def _run(dry_run: bool, delete_untagged: bool = False) -> Any:
    from portal.storage.gc import execute
    from portal.storage.models import GCRun

    run = GCRun.objects.create(dry_run=dry_run, delete_untagged=delete_untagged, requested_by="tests")
    finished = execute(run.pk)
    assert finished is not None and finished.status == "succeeded", finished and finished.errors
    return finished


def _digest_of(berth: Berth, repository: str, tag: str) -> str:
    return berth.direct().head_manifest(repository, tag)[0]


def test_gc_removes_what_only_a_deleted_image_used_and_keeps_shared_layers(
        berth: Berth, crew: dict[str, Any], client_for: Any, tmp_path: Path) -> None:
    shared, own_a, own_b = os.urandom(300_000), os.urandom(100_000), os.urandom(200_000)
    image_a, image_b = _layout(tmp_path / "a", shared, own_a), _layout(tmp_path / "b", shared, own_b)
    berth.push(image_a, "alpha/app:v1", crew["alpha"][1])
    berth.push(image_b, "beta/app:v1", crew["beta"][1])
    digest_b = _digest_of(berth, "beta/app", "v1")
    only_b = set(_layout_blobs(image_b)) - set(_layout_blobs(image_a))
    assert len(only_b) == 3, "the manifest, the config and the own layer"
    deleted = client_for(crew["beta"][0]).delete(f"/api/v1/projects/beta/repositories/app/artifacts/{digest_b}")
    assert deleted.status_code == 200, deleted.content
    before = _blobs_on_disk(berth)

    dry = _run(dry_run=True)
    assert _blobs_on_disk(berth) == before, "a dry run deletes nothing"
    run = _run(dry_run=False)

    after = _blobs_on_disk(berth)
    expected = {digest: size for digest, size in before.items() if digest in only_b}
    assert set(before) - set(after) == only_b
    assert sum(before.values()) - sum(after.values()) == sum(expected.values())
    assert (run.blobs_deleted, run.bytes_freed, run.manifests_deleted) == (3, sum(expected.values()), 0)
    assert (dry.blobs_deleted, dry.bytes_freed, dry.manifests_deleted, dry.report) == (
        run.blobs_deleted, run.bytes_freed, run.manifests_deleted, run.report)
    assert run.report == {"beta": {"manifests": 0, "blobs": 3, "bytes": sum(expected.values())}}
    links = berth.distribution.setup.data_dir / "docker/registry/v2/repositories/beta/app/_layers/sha256"
    assert not any((links / digest[7:]).exists() for digest in only_b)

    berth.pull("alpha/app:v1", tmp_path / "back", crew["alpha"][1])
    assert _layout_blobs(tmp_path / "back") == _layout_blobs(image_a)


def test_a_layer_collected_and_pushed_again_is_uploaded_again_and_pulls(
        berth: Berth, crew: dict[str, Any], client_for: Any, tmp_path: Path) -> None:
    from portal.storage.models import Blob

    layer = os.urandom(50_000)
    image = _layout(tmp_path / "image", layer)
    berth.push(image, "beta/app:v1", crew["beta"][1])
    digest = _digest_of(berth, "beta/app", "v1")
    layer_digest = next(d for d, data in _layout_blobs(image).items() if len(data) > 40_000)
    assert client_for(crew["beta"][0]).delete(
        f"/api/v1/projects/beta/repositories/app/artifacts/{digest}").status_code == 200
    _run(dry_run=False)
    assert layer_digest not in _blobs_on_disk(berth)
    pusher = client(berth, crew["beta"][1], "beta/app")
    head = pusher.request("HEAD", f"/v2/beta/app/blobs/{layer_digest}")
    assert head.status_code == 404, "distribution does not report the collected blob present"

    berth.push(image, "beta/app:v1", crew["beta"][1])

    assert _blobs_on_disk(berth)[layer_digest] == len(_layout_blobs(image)[layer_digest])
    assert Blob.objects.filter(digest=layer_digest, status="present").exists()
    berth.pull("beta/app:v1", tmp_path / "back", crew["beta"][1])
    assert _layout_blobs(tmp_path / "back") == _layout_blobs(image)


def test_delete_untagged_collects_a_manifest_a_push_untagged_and_the_dry_run_said_so(
        berth: Berth, crew: dict[str, Any], tmp_path: Path) -> None:
    from portal.artifacts.models import Artifact

    old, new = _layout(tmp_path / "old", os.urandom(10_000)), _layout(tmp_path / "new", os.urandom(10_000))
    berth.push(old, "alpha/app:v1", crew["alpha"][1])
    old_digest = _digest_of(berth, "alpha/app", "v1")
    berth.push(new, "alpha/app:v1", crew["alpha"][1])
    kept_without = _run(dry_run=False, delete_untagged=False)
    assert (kept_without.manifests_deleted, kept_without.blobs_deleted) == (0, 0), "untagged is kept by default"

    dry = _run(dry_run=True, delete_untagged=True)
    run = _run(dry_run=False, delete_untagged=True)

    assert (run.manifests_deleted, run.blobs_deleted) == (1, 3)
    assert (dry.manifests_deleted, dry.blobs_deleted, dry.bytes_freed, dry.report) == (
        run.manifests_deleted, run.blobs_deleted, run.bytes_freed, run.report)
    assert not Artifact.objects.filter(digest=old_digest).exists()
    assert berth.direct().blob_exists("alpha/app", old_digest) is False
    assert set(_layout_blobs(new)) <= set(_blobs_on_disk(berth))
    berth.pull("alpha/app:v1", tmp_path / "back", crew["alpha"][1])
    assert _layout_blobs(tmp_path / "back") == _layout_blobs(new)


def test_referrers_live_as_long_as_their_subject(berth: Berth, crew: dict[str, Any]) -> None:
    from portal.artifacts.models import Artifact

    pusher = client(berth, crew["alpha"][1], "alpha/app")
    body, subject = pusher.image("alpha/app", "v1", layer=b"signed")
    signature = {"subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject,
                             "size": len(body)}, "artifactType": "application/example.signature"}
    _, referrer = pusher.image("alpha/app", sha256(b"x").replace(":", "-"), layer=b"signature", **signature)
    # The referrer was pushed under a throwaway tag: untag it, as signing tools push by digest.
    from portal.artifacts.models import Tag

    Tag.objects.filter(artifact__digest=referrer).delete()

    run = _run(dry_run=False, delete_untagged=True)

    assert run.manifests_deleted == 0
    assert Artifact.objects.filter(digest=referrer).exists()


def test_a_blob_being_collected_is_not_served_and_a_pusher_waits_for_it_to_go(
        berth: Berth, crew: dict[str, Any]) -> None:
    from django.db import connection

    from portal.storage.models import Blob

    pusher = client(berth, crew["alpha"][1], "alpha/app")
    pusher.image("alpha/app", "v1")
    pusher.upload("alpha/app", b"collected soon")
    digest = sha256(b"collected soon")
    Blob.objects.filter(digest=digest).update(status="deleting")
    reader = client(berth, crew["alpha"][1], "alpha/app", actions="pull")

    served = reader.request("GET", f"/v2/alpha/app/blobs/{digest}")
    def sweep() -> None:
        Blob.objects.filter(digest=digest).delete()
        connection.close()

    threading.Timer(0.5, sweep).start()
    started = time.monotonic()
    head = pusher.request("HEAD", f"/v2/alpha/app/blobs/{digest}")

    assert (served.status_code, error_of(served)["code"]) == (404, "BLOB_UNKNOWN")
    assert time.monotonic() - started >= 0.4, "the pusher's HEAD waited for the sweep of the blob"
    assert head.status_code == 200, "the row went, the bytes did not (this test deleted only the row)"


def test_a_blob_a_push_touched_after_the_mark_is_not_collected(berth: Berth, crew: dict[str, Any],
                                                               settings: Any) -> None:
    from portal.storage.gc import _Progress, _sweep_blobs, plan
    from portal.storage.models import Blob, GCRun
    from portal.storage.services import claim_blobs

    pusher = client(berth, crew["alpha"][1], "alpha/app")
    pusher.upload("alpha/app", b"uploaded, manifest still to come")
    digest = sha256(b"uploaded, manifest still to come")
    settings.GC_GRACE_SECONDS = 1
    Blob.objects.filter(digest=digest).update(pushed_at=Blob.objects.get(digest=digest).pushed_at - timedelta(hours=1))
    found = plan(delete_untagged=False)
    assert digest in {d for _, d, _ in found.blobs}

    claim_blobs([digest])  # the push's manifest arrives between the mark and the sweep
    run = GCRun.objects.create(requested_by="tests", status="running")
    assert found.cutoff is not None
    from portal.registry.storage import storage_from_settings

    _sweep_blobs([pk for pk, _, _ in found.blobs], found.cutoff, storage_from_settings(), _Progress(run), {})

    assert Blob.objects.filter(digest=digest, status="present").exists()
    assert digest in _blobs_on_disk(berth)


def test_one_run_at_a_time_and_a_dead_worker_frees_the_lock(db: Any, settings: Any) -> None:
    from django.utils import timezone

    from portal.storage.gc import execute
    from portal.storage.models import GCRun

    busy = GCRun.objects.create(requested_by="tests", status="running", heartbeat_at=timezone.now())
    waiting = GCRun.objects.create(requested_by="tests", dry_run=True)

    assert execute(waiting.pk) is None
    waiting.refresh_from_db()
    assert waiting.status == "pending"

    GCRun.objects.filter(pk=busy.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=settings.GC_LOCK_SECONDS + 1))
    finished = execute(waiting.pk)
    busy.refresh_from_db()
    assert finished is not None and finished.status == "succeeded"
    assert (busy.status, busy.errors) == ("failed", ["the worker running it stopped answering"])
    assert execute(waiting.pk) is None, "a finished run is not run again"


def test_pushes_during_repeated_gc_runs_all_pull_completely(berth: Berth, crew: dict[str, Any],
                                                            settings: Any) -> None:
    import hashlib
    import json as jsonlib

    from django.db import connection

    from portal.storage.gc import execute
    from portal.storage.models import GCRun

    settings.GC_GRACE_SECONDS = 1
    pusher = client(berth, crew["alpha"][1], "alpha/app")
    shared = os.urandom(20_000)
    variants = [os.urandom(20_000) for _ in range(3)]
    config = jsonlib.dumps({"architecture": "amd64", "os": "linux"}).encode()
    done = threading.Event()
    failures: list[str] = []
    runs: list[str] = []

    def blob(data: bytes) -> dict[str, Any]:
        # As docker does: HEAD first, upload only what the registry does not report present.
        if pusher.request("HEAD", f"/v2/alpha/app/blobs/{sha256(data)}").status_code != 200:
            pusher.upload("alpha/app", data)
        return {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(data), "size": len(data)}

    def collect() -> None:
        try:
            while not done.is_set():
                run = execute(GCRun.objects.create(delete_untagged=True, requested_by="tests").pk)
                runs.append(run.status if run else "skipped")
        finally:
            connection.close()

    collector = threading.Thread(target=collect)
    collector.start()
    try:
        for step in range(15):
            manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": {**blob(config), "mediaType": "application/vnd.oci.image.config.v1+json"},
                        "layers": [blob(shared), blob(variants[step % 3])]}
            body = jsonlib.dumps(manifest).encode()
            pushed = pusher.request("PUT", "/v2/alpha/app/manifests/current", content=body,
                                    headers={"Content-Type": manifest["mediaType"]})
            if pushed.status_code != 201:
                failures.append(f"step {step}: manifest push {pushed.status_code} {pushed.text}")
                continue
            for layer in [manifest["config"], *manifest["layers"]]:
                got = pusher.request("GET", f"/v2/alpha/app/blobs/{layer['digest']}", headers={"Range": "bytes=0-"})
                if "sha256:" + hashlib.sha256(got.content).hexdigest() != layer["digest"]:
                    failures.append(f"step {step}: {layer['digest']} does not pull ({got.status_code})")
            time.sleep(0.4)  # the previous image, untagged, outlives the grace window now and then
    finally:
        done.set()
        collector.join(60)

    assert failures == []
    assert len(runs) >= 3 and set(runs) == {"succeeded"}, runs
    assert GCRun.objects.filter(blobs_deleted__gt=0).exists(), "the runs collected the untagged images' layers"
