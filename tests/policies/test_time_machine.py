"""The tags' time machine: every change is recorded; a deleted or moved tag comes back within the window."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.registry import Berth
from tests.support.images import build_busybox_layout


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("time-machine")
    return (build_busybox_layout(root / "old", config={"Env": ["AGE=old"]}),
            build_busybox_layout(root / "new", config={"Env": ["AGE=new"]}))


def _pulled_digest(berth: Berth, reference: str, creds: tuple[str, str], dest: Path) -> str:
    berth.pull(reference, dest, creds)
    index = (dest / "index.json").read_text()
    import json

    return str(json.loads(index)["manifests"][0]["digest"])


def test_a_deleted_tag_and_a_moved_tag_are_restored_and_pull_their_old_digests(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any, images: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    from portal.audit.models import AuditEntry
    from portal.policies.models import TagEvent

    maintainer, creds = registry_user()
    make_project("tm", members={maintainer: "maintainer"})
    old, new = images
    berth.push(old, "tm/app:stable", creds)
    berth.push(old, "tm/app:gone", creds)
    api = client_for(maintainer)
    old_digest = berth.direct().head_manifest("tm/app", "stable")[0]
    berth.push(new, "tm/app:stable", creds)
    new_digest = berth.direct().head_manifest("tm/app", "stable")[0]
    deleted = api.delete(f"/api/v1/projects/tm/repositories/app/artifacts/{old_digest}/tags/gone")
    assert deleted.status_code == 204

    moved_history = api.get("/api/v1/projects/tm/repositories/app/tags/stable/history").json()
    restore_moved = api.post("/api/v1/projects/tm/repositories/app/tags/stable/restore", {"digest": old_digest},
                             format="json")
    restore_deleted = api.post("/api/v1/projects/tm/repositories/app/tags/gone/restore", {"digest": old_digest},
                               format="json")

    assert moved_history["window_days"] == 14
    assert [(e["action"], e["from_digest"], e["to_digest"], e["restorable"]) for e in moved_history["events"]] == [
        ("moved", old_digest, new_digest, True), ("created", "", old_digest, False)]
    assert restore_moved.status_code == 200, restore_moved.content
    assert restore_moved.json() == {"repository": "tm/app", "tag": "stable", "digest": old_digest}
    assert restore_deleted.status_code == 200, restore_deleted.content
    assert _pulled_digest(berth, "tm/app:stable", creds, tmp_path / "stable") == old_digest
    assert _pulled_digest(berth, "tm/app:gone", creds, tmp_path / "gone") == old_digest
    assert list(TagEvent.objects.filter(repository="tm/app", tag="gone").values_list("action", flat=True)) == [
        "created", "deleted", "created"]
    assert AuditEntry.objects.filter(action="restore", resource="tm/app:stable", actor=maintainer.username).count() == 1
    # Reconcile agrees: distribution points the tags where the index does.
    assert berth.direct().head_manifest("tm/app", "stable")[0] == old_digest


def test_outside_the_window_the_history_says_so_and_restore_is_refused(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any, images: tuple[Path, Path],
) -> None:
    from portal.policies.models import TagEvent

    maintainer, creds = registry_user()
    make_project("late", members={maintainer: "maintainer"})
    old, new = images
    berth.push(old, "late/app:v1", creds)
    old_digest = berth.direct().head_manifest("late/app", "v1")[0]
    berth.push(new, "late/app:v1", creds)
    api = client_for(maintainer)
    moved = TagEvent.objects.get(repository="late/app", tag="v1", action="moved")
    moved.at -= timedelta(days=3)
    moved.save()
    TagEvent.objects.filter(repository="late/app", tag="v1", action="created").update(at=moved.at)

    shortened = api.put("/api/v1/projects/late/policy-settings", {"tag_history_days": 2}, format="json")
    history = api.get("/api/v1/projects/late/repositories/app/tags/v1/history").json()
    refused = api.post("/api/v1/projects/late/repositories/app/tags/v1/restore", {"digest": old_digest},
                       format="json")
    off = api.put("/api/v1/projects/late/policy-settings", {"tag_history_days": 0}, format="json")
    refused_off = api.post("/api/v1/projects/late/repositories/app/tags/v1/restore", {"digest": old_digest},
                           format="json")

    assert shortened.json() == {"tag_history_days": 2}
    assert history["window_days"] == 2
    assert [event["restorable"] for event in history["events"]] == [False, False]
    assert refused.status_code == 409
    error = refused.json()["errors"][0]
    assert error["code"] == "tag_history_expired"
    assert error["message"] == (f"tag late/app:v1 last pointed at {old_digest} on {moved.at:%Y-%m-%d %H:%M} UTC, "
                                "outside project late's 2-day window: it can no longer be restored")
    assert off.json() == {"tag_history_days": 0}
    assert refused_off.json()["errors"][0] == {
        "code": "tag_history_off",
        "message": "the tag history of project late is off (a window of 0 days): no tag can be restored"}


def test_restore_is_refused_when_the_manifest_is_gone(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any, images: tuple[Path, Path],
) -> None:
    maintainer, creds = registry_user()
    make_project("lost", members={maintainer: "maintainer"})
    old, _ = images
    berth.push(old, "lost/app:v1", creds)
    digest = berth.direct().head_manifest("lost/app", "v1")[0]
    api = client_for(maintainer)
    assert api.delete(f"/api/v1/projects/lost/repositories/app/artifacts/{digest}").status_code == 200

    refused = api.post("/api/v1/projects/lost/repositories/app/tags/v1/restore", {"digest": digest}, format="json")

    assert refused.status_code == 409
    assert refused.json()["errors"][0] == {
        "code": "manifest_gone",
        "message": f"the manifest {digest} of lost/app is gone (its artifact was deleted): "
                   "tag v1 cannot be restored to it"}


def test_gc_is_told_which_digests_the_history_keeps(
    berth: Berth, registry_user: Any, make_project: Any, images: tuple[Path, Path],
) -> None:
    from portal.artifacts.models import Repository
    from portal.policies.guards import digests_kept_by_tag_history

    maintainer, creds = registry_user()
    make_project("gc", members={maintainer: "maintainer"})
    old, new = images
    berth.push(old, "gc/app:v1", creds)
    old_digest = berth.direct().head_manifest("gc/app", "v1")[0]
    berth.push(new, "gc/app:v1", creds)
    new_digest = berth.direct().head_manifest("gc/app", "v1")[0]
    repository = Repository.objects.get(name="gc/app")

    assert digests_kept_by_tag_history([repository.pk]) == {repository.pk: {old_digest, new_digest}}


def test_a_gc_deleting_untagged_keeps_what_the_time_machine_can_restore(
    berth: Berth, registry_user: Any, make_project: Any, images: tuple[Path, Path], settings: Any,
) -> None:
    from portal.artifacts.models import Artifact
    from portal.policies.models import ProjectPolicySettings
    from portal.storage.gc import execute
    from portal.storage.models import GCRun

    settings.GC_GRACE_SECONDS = 0
    maintainer, creds = registry_user()
    project = make_project("keepsake", members={maintainer: "maintainer"})
    old, new = images
    berth.push(old, "keepsake/app:v1", creds)
    old_digest = berth.direct().head_manifest("keepsake/app", "v1")[0]
    berth.push(new, "keepsake/app:v1", creds)  # the old image is now untagged, and restorable

    kept = execute(GCRun.objects.create(dry_run=False, delete_untagged=True, requested_by="tests").pk)
    assert kept is not None and kept.status == "succeeded"
    assert Artifact.objects.filter(repository__name="keepsake/app", digest=old_digest).exists()

    ProjectPolicySettings.objects.update_or_create(project=project, defaults={"tag_history_days": 0})
    collected = execute(GCRun.objects.create(dry_run=False, delete_untagged=True, requested_by="tests").pk)
    assert collected is not None and collected.manifests_deleted >= 1
    assert not Artifact.objects.filter(repository__name="keepsake/app", digest=old_digest).exists()


def test_reconcile_records_the_tags_it_moves_creates_and_removes(berth: Berth, registry_user: Any, make_project: Any,
                                                                  images: tuple[Path, Path]) -> None:
    from portal.artifacts import services
    from portal.artifacts.models import Artifact, Tag
    from portal.policies.models import TagEvent

    maintainer, creds = registry_user()
    make_project("rec", members={maintainer: "maintainer"})
    old, new = images
    berth.push(old, "rec/app:v1", creds)
    berth.push(new, "rec/app:v2", creds)
    first, second = (berth.direct().head_manifest("rec/app", tag)[0] for tag in ("v1", "v2"))
    # The index drifts: v1 points at the other artifact, and a tag distribution never had appears.
    Tag.objects.filter(repository__name="rec/app", name="v1").update(
        artifact=Artifact.objects.get(repository__name="rec/app", digest=second))
    Tag.objects.create(repository=Tag.objects.get(name="v2").repository, name="stray",
                       artifact=Artifact.objects.get(digest=second), pushed_at=Tag.objects.get(name="v2").pushed_at)

    services.reconcile(client=berth.direct())

    events = TagEvent.objects.filter(repository="rec/app", actor="reconcile")
    assert sorted(events.values_list("tag", "action", "from_digest", "to_digest")) == [
        ("stray", "deleted", second, ""), ("v1", "moved", second, first)]
