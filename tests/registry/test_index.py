"""The artifact index: manifests built here, stored in a real distribution, indexed as the proxy would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from portal.artifacts import services
from portal.artifacts.models import Artifact, ArtifactReference, Repository, Tag
from portal.audit.models import AuditEntry
from portal.rbac.principals import UserPrincipal
from portal.utilities.errors import InvalidInput, NotFound
from tests.fixtures.artifacts import IMAGE_CONFIG as CONFIG
from tests.fixtures.artifacts import OCI_INDEX, OCI_MANIFEST, sha256

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

@pytest.fixture
def pusher(make_user, make_project):
    user = make_user("pusher")
    make_project("idx")
    return UserPrincipal(user)


def push(registry, principal, repository, reference, body, digest, media_type=OCI_MANIFEST):
    return services.record_manifest_push(
        principal,
        repository,
        reference,
        digest,
        media_type,
        body,
        source_ip="127.0.0.1",
        client=registry.client,
    )


def test_image_push_records_config_facts_tag_and_counters(registry, pusher):
    body, digest = registry.image(
        "idx/app", "v1", config=CONFIG, layers=[b"layer one", b"layer two!"]
    )

    artifact = push(registry, pusher, "idx/app", "v1", body, digest)

    config_size = len(json.dumps(CONFIG).encode())
    assert artifact.size == len(body) + config_size + len(b"layer one") + len(b"layer two!")
    assert (artifact.os, artifact.architecture, artifact.variant) == ("linux", "arm64", "v8")
    assert artifact.created == datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    assert artifact.labels == {"org.opencontainers.image.title": "app"}
    assert artifact.artifact_type == "application/vnd.oci.image.config.v1+json"
    assert artifact.pushed_by == "pusher"
    assert artifact.config["config"]["WorkingDir"] == "/srv"
    assert bytes(artifact.manifest) == body
    assert list(Tag.objects.filter(repository__name="idx/app").values_list("name", flat=True)) == [
        "v1"
    ]
    repository = Repository.objects.get(name="idx/app")
    assert (
        repository.project.name,
        repository.artifact_count,
        repository.tag_count,
        repository.size,
    ) == ("idx", 1, 1, artifact.size)
    assert repository.pushed_at is not None
    entry = AuditEntry.objects.get(action="push", resource="idx/app:v1")
    assert (entry.actor, entry.project_name, entry.source_ip) == ("pusher", "idx", "127.0.0.1")


def test_pushing_the_same_digest_again_only_sets_tags_and_a_tag_moves(registry, pusher):
    first, first_digest = registry.image("idx/again", "v1", config=CONFIG, layers=[b"a"])
    push(registry, pusher, "idx/again", "v1", first, first_digest)
    push(registry, pusher, "idx/again", "stable", first, first_digest)
    push(registry, pusher, "idx/again", first_digest, first, first_digest)
    assert Artifact.objects.filter(repository__name="idx/again").count() == 1

    second, second_digest = registry.image(
        "idx/again", "stable", config={**CONFIG, "os": "freebsd"}, layers=[b"b"]
    )
    push(registry, pusher, "idx/again", "stable", second, second_digest)

    tags = dict(
        Tag.objects.filter(repository__name="idx/again").values_list("name", "artifact__digest")
    )
    assert tags == {"v1": first_digest, "stable": second_digest}
    repository = Repository.objects.get(name="idx/again")
    assert (repository.artifact_count, repository.tag_count) == (2, 2)


def _index(children: list[tuple[str, bytes, dict[str, str]]]) -> dict:
    return {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body), "platform": platform}
            for digest, body, platform in children
        ],
        "annotations": {"org.opencontainers.image.version": "1.0"},
    }


def _two_children(registry, repository):
    amd, amd_digest = registry.image(
        repository, "tmp-amd", config={**CONFIG, "architecture": "amd64"}, layers=[b"x"]
    )
    arm, arm_digest = registry.image(repository, "tmp-arm", config=CONFIG, layers=[b"y"])
    return [
        (amd_digest, amd, {"os": "linux", "architecture": "amd64"}),
        (arm_digest, arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
    ]


def test_index_links_children_pushed_before_it_and_lists_only_the_index(registry, pusher):
    children = _two_children(registry, "idx/multi")
    for digest, body, _ in children:
        push(registry, pusher, "idx/multi", digest, body, digest)
    assert Repository.objects.get(name="idx/multi").artifact_count == 2
    body, digest = registry.put_manifest("idx/multi", "1.0", _index(children))

    index = push(registry, pusher, "idx/multi", "1.0", body, digest, OCI_INDEX)

    links = list(ArtifactReference.objects.filter(parent=index).order_by("position"))
    assert [link.child.digest for link in links] == [children[0][0], children[1][0]]
    assert links[1].platform == {"os": "linux", "architecture": "arm64", "variant": "v8"}
    child_sizes = [
        Artifact.objects.get(digest=d, repository__name="idx/multi").size for d, _, _ in children
    ]
    assert index.size == len(body) + sum(child_sizes)
    assert index.annotations == {"org.opencontainers.image.version": "1.0"}
    repository = Repository.objects.get(name="idx/multi")
    assert (repository.artifact_count, repository.size) == (1, index.size)
    assert set(
        Artifact.objects.filter(repository=repository).values_list("parent_count", flat=True)
    ) == {0, 1}


def test_index_whose_children_were_never_indexed_fetches_them(registry, pusher):
    children = _two_children(registry, "idx/fetch")
    body, digest = registry.put_manifest("idx/fetch", "1.0", _index(children))

    push(registry, pusher, "idx/fetch", "1.0", body, digest, OCI_INDEX)

    fetched = Artifact.objects.filter(repository__name="idx/fetch", parent_count=1)
    assert sorted(fetched.values_list("architecture", flat=True)) == ["amd64", "arm64"]
    assert Repository.objects.get(name="idx/fetch").artifact_count == 1


def test_deleting_an_index_through_v2_deletes_its_untagged_children_as_the_api_does(registry, pusher):
    from portal.projects.models import Member, Project

    Member.objects.create(project=Project.objects.get(name="idx"), user=pusher.user, role="maintainer")
    children = _two_children(registry, "idx/orphans")
    body, digest = registry.put_manifest("idx/orphans", "1.0", _index(children))
    push(registry, pusher, "idx/orphans", "1.0", body, digest, OCI_INDEX)

    removed = services.delete_manifest(pusher, "idx/orphans", digest, client=registry.client)

    everything = [digest, *(child_digest for child_digest, _, _ in children)]
    assert sorted(removed) == sorted(everything)
    repository = Repository.objects.get(name="idx/orphans")
    assert (repository.artifact_count, repository.tag_count, repository.size) == (0, 0, 0)
    assert not Artifact.objects.filter(repository=repository).exists()
    assert all(registry.gone("idx/orphans", removed_digest) for removed_digest in everything)
    with pytest.raises(NotFound):
        services.delete_manifest(pusher, "idx/orphans", digest, client=registry.client)


def test_referrers_list_artifacts_whose_subject_is_the_digest(registry, pusher):
    body, digest = registry.image("idx/signed", "v1", config=CONFIG, layers=[b"s"])
    push(registry, pusher, "idx/signed", "v1", body, digest)
    subject = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body)}
    empty = registry.upload_blob("idx/signed", b"{}", "application/vnd.oci.empty.v1+json")
    signature = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sig",
        "config": empty,
        "layers": [registry.upload_blob("idx/signed", b"sig")],
        "subject": subject,
        "annotations": {"signed-by": "ci"},
    }
    sbom = {**signature, "artifactType": "application/spdx+json", "annotations": {}}
    sig_body, sig_digest = registry.put_manifest(
        "idx/signed", sha256(json.dumps(signature, sort_keys=True).encode()), signature
    )
    sbom_body, sbom_digest = registry.put_manifest(
        "idx/signed", sha256(json.dumps(sbom, sort_keys=True).encode()), sbom
    )
    push(registry, pusher, "idx/signed", sig_digest, sig_body, sig_digest)
    push(registry, pusher, "idx/signed", sbom_digest, sbom_body, sbom_digest)

    found = services.referrers("idx/signed", digest)
    only_signatures = services.referrers("idx/signed", digest, "application/vnd.example.sig")

    assert {d["digest"] for d in found} == {sig_digest, sbom_digest}
    assert only_signatures == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": sig_digest,
            "size": len(sig_body),
            "artifactType": "application/vnd.example.sig",
            "annotations": {"signed-by": "ci"},
        }
    ]
    assert (
        Repository.objects.get(name="idx/signed").artifact_count == 1
    )  # referrers sit under their subject


def test_tag_list_is_in_byte_order_with_keyset_pagination(registry, pusher):
    body, digest = registry.image("idx/tags", "seed", config=CONFIG, layers=[b"t"])
    names = ["b", "A", "a-1", "a.1", "a_1", "a", "Z9", "seed"]
    for name in names:
        push(registry, pusher, "idx/tags", name, body, digest)

    assert services.list_tags("idx/tags") == sorted(
        names
    )  # Python sorts str by code point: byte order
    assert services.list_tags("idx/tags", n=3) == ["A", "Z9", "a"]
    assert services.list_tags("idx/tags", n=3, last="a") == ["a-1", "a.1", "a_1"]
    assert services.list_tags("idx/tags", last="seed") == []
    assert services.list_tags("idx/nothing-here") == []


def test_cached_manifest_serves_tags_with_one_query_and_digests_from_memory(
    registry, pusher, django_assert_num_queries
):
    body, digest = registry.image("idx/cache", "v1", config=CONFIG, layers=[b"c"])
    push(registry, pusher, "idx/cache", "v1", body, digest)
    services.manifest_cache.clear()

    with django_assert_num_queries(1):
        assert services.cached_manifest("idx/cache", "v1") == (body, OCI_MANIFEST, digest)
    with django_assert_num_queries(0):
        assert services.cached_manifest("idx/cache", digest) == (body, OCI_MANIFEST, digest)
    assert services.cached_manifest("idx/cache", "v2") is None
    assert services.cached_manifest("idx/cache", "sha256:" + "0" * 64) is None
    assert services.cached_manifest("idx/other", "v1") is None


def test_pulls_are_counted_in_bulk_and_audited_once_per_actor_and_artifact(
    registry, pusher, make_user
):
    body, digest = registry.image("idx/pulled", "v1", config=CONFIG, layers=[b"p"])
    push(registry, pusher, "idx/pulled", "v1", body, digest)
    reader = UserPrincipal(make_user("reader"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = [("idx/pulled", digest, "v1", reader, start + timedelta(seconds=s)) for s in range(3)]
    batch += [
        ("idx/pulled", digest, None, "robot$idx+ci", start + timedelta(minutes=5)),
        ("idx/pulled", digest, None, None, start),
        ("idx/unknown", digest, "v1", reader, start),
    ]

    assert services.record_pulls(batch) == 5

    artifact = Artifact.objects.get(repository__name="idx/pulled")
    assert (artifact.pull_count, artifact.last_pulled_at) == (5, start + timedelta(minutes=5))
    assert Tag.objects.get(
        repository__name="idx/pulled", name="v1"
    ).last_pulled_at == start + timedelta(seconds=2)
    repository = Repository.objects.get(name="idx/pulled")
    assert (repository.pull_count, repository.last_pulled_at) == (5, start + timedelta(minutes=5))
    rows = {
        (e.actor_kind, e.actor): e.detail["count"] for e in AuditEntry.objects.filter(action="pull")
    }
    assert rows == {
        ("user", "reader"): 3,
        ("robot", "robot$idx+ci"): 1,
        ("anonymous", "anonymous"): 1,
    }

    services.record_pulls([("idx/pulled", digest, "v1", reader, start - timedelta(days=1))])
    artifact.refresh_from_db()
    assert (artifact.pull_count, artifact.last_pulled_at) == (6, start + timedelta(minutes=5))


def test_push_to_a_project_that_does_not_exist_is_refused(registry, pusher):
    body, digest = registry.image("ghost/app", "v1", config=CONFIG, layers=[b"g"])
    with pytest.raises(NotFound, match="project 'ghost' of repository 'ghost/app' does not exist"):
        push(registry, pusher, "ghost/app", "v1", body, digest)
    assert not Repository.objects.filter(name="ghost/app").exists()


@pytest.mark.parametrize(
    ("reference", "digest", "message"),
    [
        ("v1", "sha256:short", "invalid digest 'sha256:short'"),
        ("-bad", "sha256:" + "a" * 64, "invalid tag '-bad'"),
        ("x" * 129, "sha256:" + "a" * 64, "invalid tag"),
    ],
)
def test_malformed_references_are_refused_before_anything_is_written(
    registry, pusher, reference, digest, message
):
    with pytest.raises(InvalidInput, match=message):
        services.record_manifest_push(
            pusher, "idx/bad", reference, digest, OCI_MANIFEST, b"{}", client=registry.client
        )
    assert not Repository.objects.filter(name="idx/bad").exists()


def test_reads_for_names_outside_the_grammar_find_nothing_without_asking_the_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert services.list_tags("idx/a\x00b") == []
        assert services.list_tags("idx/app", last="a\x00") == []
        assert services.cached_manifest("Idx/App", "v1") is None
        assert services.referrers("idx/app", "sha256:nope") == []
        assert services.referrers("idx/app", "sha256:" + "a" * 64, "x\x00") == []
