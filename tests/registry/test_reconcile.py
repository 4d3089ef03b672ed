"""Reconcile: the index rebuilt from distribution and repaired after drift."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from io import StringIO

import pytest
from django.core.management import call_command

from portal.artifacts import services
from portal.artifacts.models import Artifact, DeletedTag, Repository, Tag
from portal.artifacts.tasks import reconcile_index
from portal.audit.models import AuditEntry
from portal.rbac.principals import UserPrincipal
from portal.registry.distribution import DistributionNotFound
from tests.fixtures.artifacts import OCI_MANIFEST
from tests.fixtures.portal import unique

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def fix(make_user, make_project):
    """A project of its own for each test: distribution keeps every earlier test's repositories."""
    user = make_user("fixer")
    project = make_project(unique("fix"), members={user: "project_admin"})
    return Fix(UserPrincipal(user), project.name)


@dataclass
class Fix:
    principal: UserPrincipal
    project: str

    def __call__(self, repository: str) -> str:
        return f"{self.project}/{repository}"

    def mine(self, items: list[str]) -> list[str]:
        """Report lines about this test's project."""
        return sorted(item for item in items if item.startswith(self.project + "/"))


def test_reconcile_indexes_what_was_pushed_straight_to_distribution_and_is_idempotent(registry, image_layouts, fix):
    registry.push_layout(image_layouts.two_platforms, fix("multi"), "1.0")
    registry.push_layout(image_layouts.single, fix("single"), "v1")
    registry.push_layout(image_layouts.single, fix("single"), "v2")

    report = services.reconcile(client=registry.client)

    assert fix.mine(report.repositories_created) == [fix("multi"), fix("single")]
    assert len(fix.mine(report.artifacts_created)) == 2  # the index (its children come with it) and the image
    assert fix.mine(report.tags_created) == [f"{fix('multi')}:1.0", f"{fix('single')}:v1", f"{fix('single')}:v2"]
    multi = Repository.objects.get(name=fix("multi"))
    assert (multi.artifact_count, multi.tag_count) == (1, 1)
    assert Artifact.objects.filter(repository=multi).count() == 3
    assert Artifact.objects.get(repository__name=fix("single")).pushed_by == "reconcile"
    assert AuditEntry.objects.filter(action="reconcile", actor_kind="system", actor="reconcile").count() == 1

    again = services.reconcile(client=registry.client)
    assert not any(fix.mine(items) for name, items in vars(again).items()
                   if isinstance(items, list) and name != "skipped")


def test_reconcile_restores_a_row_deleted_by_hand_and_drops_a_row_distribution_never_had(registry, image_layouts, fix):
    first = registry.push_and_index(image_layouts.single, fix("drift"), "v1", fix.principal)
    second = registry.push_and_index(image_layouts.multilayer, fix("drift"), "v2", fix.principal)
    Artifact.objects.filter(repository__name=fix("drift"), digest=first).delete()
    registry.push_and_index(image_layouts.multilayer, fix("drift"), "v3", fix.principal)
    Tag.objects.filter(repository__name=fix("drift"), name="v3").update(
        artifact=Artifact.objects.create(repository=Repository.objects.get(name=fix("drift")),
                                         digest="sha256:" + "e" * 64, media_type="x", manifest=b"{}",
                                         pushed_at="2026-01-01T00:00:00Z"))

    report = services.reconcile(client=registry.client)

    assert fix.mine(report.artifacts_created) == [f"{fix('drift')}@{first}"]
    assert fix.mine(report.artifacts_removed) == [f"{fix('drift')}@sha256:" + "e" * 64]
    # v3's stray artifact is removed with its tag first, then the tag is made again where distribution says.
    assert fix.mine(report.tags_created) == [f"{fix('drift')}:v1", f"{fix('drift')}:v3"]
    tags = dict(Tag.objects.filter(repository__name=fix("drift")).values_list("name", "artifact__digest"))
    assert tags == {"v1": first, "v2": second, "v3": second}
    repository = Repository.objects.get(name=fix("drift"))
    assert (repository.artifact_count, repository.tag_count) == (2, 3)
    assert repository.size == sum(Artifact.objects.filter(repository=repository).values_list("size", flat=True))


def test_reconcile_moves_a_tag_that_points_elsewhere(registry, image_layouts, fix):
    first = registry.push_and_index(image_layouts.single, fix("pointer"), "v1", fix.principal)
    second = registry.push_and_index(image_layouts.multilayer, fix("pointer"), "v2", fix.principal)
    Tag.objects.filter(repository__name=fix("pointer"), name="v1").update(
        artifact=Artifact.objects.get(repository__name=fix("pointer"), digest=second))

    report = services.reconcile(client=registry.client)

    assert fix.mine(report.tags_moved) == [f"{fix('pointer')}:v1 {second} -> {first}"]
    assert Tag.objects.get(repository__name=fix("pointer"), name="v1").artifact.digest == first
    counts = dict(Artifact.objects.filter(repository__name=fix("pointer")).values_list("digest", "tag_count"))
    assert counts == {first: 1, second: 1}


def test_reconcile_forgets_manifests_deleted_in_distribution_and_repositories_it_never_had(registry, image_layouts,
                                                                                           fix):
    digest = registry.push_and_index(image_layouts.single, fix("vanish"), "v1", fix.principal)
    registry.push_and_index(image_layouts.multilayer, fix("vanish"), "v2", fix.principal)
    registry.client.delete_manifest(fix("vanish"), digest)
    Repository.objects.create(project=Repository.objects.get(name=fix("vanish")).project, name=fix("phantom"))

    report = services.reconcile(client=registry.client)

    assert fix.mine(report.artifacts_removed) == [f"{fix('vanish')}@{digest}"]
    assert fix.mine(report.repositories_removed) == [fix("phantom")]
    assert services.list_tags(fix("vanish")) == ["v2"]
    assert Repository.objects.get(name=fix("vanish")).artifact_count == 1


def test_a_deleted_tag_is_not_resurrected_and_can_be_pushed_again(registry, image_layouts, fix):
    digest = registry.push_and_index(image_layouts.single, fix("tomb"), "v1", fix.principal)
    registry.push_and_index(image_layouts.single, fix("tomb"), "keep", fix.principal)
    services.delete_tag(fix.principal, fix("tomb"), "v1")
    assert "v1" in registry.client.tags(fix("tomb"))  # distribution 2.8 still lists it

    services.reconcile(client=registry.client)
    assert services.list_tags(fix("tomb")) == ["keep"]

    registry.push_and_index(image_layouts.single, fix("tomb"), "v1", fix.principal)
    assert services.list_tags(fix("tomb")) == ["keep", "v1"]
    assert not DeletedTag.objects.filter(repository_name=fix("tomb")).exists()
    services.delete_tag(fix.principal, fix("tomb"), "v1")
    registry.push_layout(image_layouts.multilayer, fix("tomb"), "v1")  # moved, straight in distribution
    report = services.reconcile(client=registry.client)
    assert fix.mine(report.tags_created) == [f"{fix('tomb')}:v1"]
    assert Tag.objects.get(repository__name=fix("tomb"), name="v1").artifact.digest != digest


def test_reconcile_removes_what_distribution_holds_but_the_index_cannot_take(registry, image_layouts, fix):
    kept = registry.push_and_index(image_layouts.single, fix("hidden"), "good", fix.principal)
    body, negative = registry.image(fix("hidden"), "negative", config={"os": "linux"}, layers=[b"layer"])
    document = json.loads(body)
    document["layers"][0]["size"] = -1
    _, negative = registry.put_manifest(fix("hidden"), "negative", document)
    _, subject = registry.image(fix("hidden"), "subject", config={"os": "linux"}, layers=[b"layer"],
                                extra={"subject": "sha256:" + "a" * 64})
    registry.client.put_manifest(fix("hidden"), "subject-too", json.dumps(
        {**json.loads(registry.client.get_manifest(fix("hidden"), subject)[0])}, sort_keys=True).encode(),
        OCI_MANIFEST)

    dry = services.reconcile(dry_run=True, client=registry.client)
    assert not registry.gone(fix("hidden"), negative)
    report = services.reconcile(client=registry.client)

    expected = [f"{fix('hidden')}@{negative}: layers[0] has an invalid size -1",
                f"{fix('hidden')}@{subject}: subject is not a descriptor object"]
    assert fix.mine(dry.unindexable_removed) == fix.mine(report.unindexable_removed) == sorted(expected)
    assert registry.gone(fix("hidden"), negative) and registry.gone(fix("hidden"), subject)
    assert registry.gone(fix("hidden"), "negative") and registry.gone(fix("hidden"), "subject-too")
    assert not registry.gone(fix("hidden"), kept)
    assert registry.client.tags(fix("hidden")) == ["good"]
    assert services.list_tags(fix("hidden")) == ["good"]
    entry = AuditEntry.objects.get(action="reconcile")
    assert entry.detail["unindexable_removed"] >= 2
    again = services.reconcile(client=registry.client)
    assert fix.mine(again.unindexable_removed) == [] and fix.mine(again.skipped) == []


def _digest_of(document: dict[str, object]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def test_reconcile_reads_untagged_manifests_from_storage_and_indexes_or_removes_them(registry, fix):
    config = registry.upload_blob(fix("untagged"), b'{"os": "linux"}', "application/vnd.oci.image.config.v1+json")
    layer = registry.upload_blob(fix("untagged"), b"layer", "application/vnd.oci.image.layer.v1.tar")
    good = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
    bad = {**good, "layers": [{**layer, "size": -1}]}
    # Pushed by digest: distribution lists no tag for either.
    _, indexable = registry.put_manifest(fix("untagged"), _digest_of(good), good)
    _, negative = registry.put_manifest(fix("untagged"), _digest_of(bad), bad)
    with pytest.raises(DistributionNotFound):
        registry.client.tags(fix("untagged"))  # "repository name not known": it has no tags

    blind = services.reconcile(client=registry.client)
    report = services.reconcile(client=registry.client, storage_root=registry.distribution.root / "data")

    assert fix.mine(blind.artifacts_created) == fix.mine(blind.unindexable_removed) == []
    assert fix.mine(report.artifacts_created) == [f"{fix('untagged')}@{indexable}"]
    assert fix.mine(report.unindexable_removed) == [
        f"{fix('untagged')}@{negative}: layers[0] has an invalid size -1"]
    assert registry.gone(fix("untagged"), negative) and not registry.gone(fix("untagged"), indexable)
    assert Artifact.objects.get(repository__name=fix("untagged"), digest=indexable).tag_count == 0
    again = services.reconcile(client=registry.client, storage_root=registry.distribution.root / "data")
    assert not any(fix.mine(items) for items in vars(again).values() if isinstance(items, list))


def test_dry_run_reports_and_writes_nothing(registry, image_layouts, fix):
    registry.push_layout(image_layouts.single, fix("dry"), "v1")

    report = services.reconcile(dry_run=True, client=registry.client)

    assert fix.mine(report.tags_created) == [f"{fix('dry')}:v1"]
    assert not Repository.objects.filter(name=fix("dry")).exists()
    assert not AuditEntry.objects.filter(action="reconcile").exists()


def test_command_and_task_reconcile_through_the_configured_registry(registry, image_layouts, fix, make_project):
    registry.push_layout(image_layouts.single, fix("command"), "v1")
    registry.push_layout(image_layouts.single, "nobody-owns-this/app", "v1")
    out = StringIO()

    call_command("reconcile", "--verbose-changes", stdout=out)

    assert f"tags_created: {fix('command')}:v1" in out.getvalue()
    assert "skipped: nobody-owns-this/app: project 'nobody-owns-this' does not exist" in out.getvalue()
    assert "tags created: " in out.getvalue().splitlines()[-1]
    assert Tag.objects.filter(repository__name=fix("command"), name="v1").exists()
    Tag.objects.filter(repository__name=fix("command")).delete()
    assert reconcile_index()["tags_created"] >= 1
    assert Tag.objects.filter(repository__name=fix("command"), name="v1").exists()


def test_reconcile_is_scheduled_in_celery_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["reconcile-artifact-index"]

    assert entry["task"] == reconcile_index.name == "portal.artifacts.tasks.reconcile_index"
    assert entry["schedule"] == float(settings.RECONCILE_INTERVAL_SECONDS) == 3600.0
