"""Deleting tags, artifacts and repositories through the browse API, and who may read or delete."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from portal.artifacts import services
from portal.artifacts.models import Artifact, DeletedTag, Repository, Tag
from portal.audit.models import AuditEntry
from portal.rbac.principals import UserPrincipal
from portal.utilities.errors import Conflict
from tests.fixtures.artifacts import IMAGE_CONFIG, OCI_INDEX, OCI_MANIFEST, sha256

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

ROLES = ["project_admin", "maintainer", "developer", "guest", "limited_guest"]
MAY_DELETE = {"project_admin", "maintainer"}


def client_as(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=UserPrincipal(user))
    return client


@pytest.fixture
def crew(make_user, make_project):
    """A private project with one member per role, and a user who belongs nowhere."""
    users = {role: make_user(role) for role in ROLES}
    project = make_project("crew", members={user: role for role, user in users.items()})
    return project, users, make_user("stranger")


def url(path: str) -> str:
    return f"/api/v1/projects/crew/repositories/{path}"


def test_deleting_a_tag_keeps_the_artifact_and_the_tag_stays_deleted(registry, image_layouts, crew):
    project, users, _ = crew
    admin = UserPrincipal(users["project_admin"])
    digest = registry.push_and_index(image_layouts.single, "crew/app", "v1", admin)
    registry.push_and_index(image_layouts.single, "crew/app", "v2", admin)
    client = client_as(users["maintainer"])

    response = client.delete(url(f"app/artifacts/{digest}/tags/v1"))

    assert response.status_code == 204, response.content
    assert [t["name"] for t in client.get(url(f"app/artifacts/{digest}/tags")).json()["results"]] == ["v2"]
    assert services.list_tags("crew/app") == ["v2"]
    assert services.cached_manifest("crew/app", "v1") is None and services.tag_deleted("crew/app", "v1")
    assert Repository.objects.get(name="crew/app").tag_count == 1
    assert Artifact.objects.get(repository__name="crew/app", digest=digest).tag_count == 1
    assert AuditEntry.objects.filter(action="delete", resource_type="tag", resource="crew/app:v1",
                                     actor="maintainer").exists()
    assert client.delete(url(f"app/artifacts/{digest}/tags/v1")).status_code == 404


def test_deleting_an_artifact_removes_it_from_distribution_and_the_api(registry, image_layouts, crew):
    project, users, _ = crew
    admin = UserPrincipal(users["project_admin"])
    digest = registry.push_and_index(image_layouts.multilayer, "crew/gone", "v1", admin)
    client = client_as(users["maintainer"])

    response = client.delete(url("gone/artifacts/v1"))

    assert response.status_code == 200, response.content
    assert response.json() == {"deleted": [digest]}
    assert registry.gone("crew/gone", digest) and registry.gone("crew/gone", "v1")
    assert client.get(url("gone/artifacts/v1")).status_code == 404
    assert client.get(url("gone/artifacts")).json()["results"] == []
    repository = Repository.objects.get(name="crew/gone")
    assert (repository.artifact_count, repository.tag_count, repository.size) == (0, 0, 0)
    assert AuditEntry.objects.filter(action="delete", resource=f"crew/gone@{digest}", actor="maintainer").exists()


def test_deleting_an_index_deletes_its_children_and_a_child_alone_is_refused(registry, image_layouts, crew):
    project, users, _ = crew
    admin = UserPrincipal(users["project_admin"])
    digest = registry.push_and_index(image_layouts.two_platforms, "crew/multi", "1.0", admin)
    children = list(Artifact.objects.filter(repository__name="crew/multi", parent_count=1).values_list("digest", flat=True))
    client = client_as(users["maintainer"])

    refused = client.delete(url(f"multi/artifacts/{children[0]}"))
    assert refused.status_code == 409
    assert refused.json()["errors"][0] == {
        "code": "artifact_in_index",
        "message": f"artifact {children[0]} is part of index {digest}: delete the index instead"}
    assert not registry.gone("crew/multi", children[0])

    deleted = client.delete(url("multi/artifacts/1.0"))

    assert sorted(deleted.json()["deleted"]) == sorted([digest, *children])
    assert all(registry.gone("crew/multi", d) for d in [digest, *children])
    assert not Artifact.objects.filter(repository__name="crew/multi").exists()


def test_a_delete_guard_refuses_unless_forced(registry, image_layouts, crew, monkeypatch):
    project, users, _ = crew
    digest = registry.push_and_index(image_layouts.single, "crew/running", "v1", UserPrincipal(users["project_admin"]))

    def running(artifact, force):
        if not force:
            raise Conflict(f"{artifact.digest} runs in 1 container", code="artifact_in_use")

    monkeypatch.setattr(services, "DELETE_GUARDS", [running])
    client = client_as(users["maintainer"])

    assert client.delete(url("running/artifacts/v1")).json()["errors"][0]["code"] == "artifact_in_use"
    assert not registry.gone("crew/running", digest)
    assert client.delete(url("running/artifacts/v1?force=true")).status_code == 200
    assert registry.gone("crew/running", digest)


def test_deleting_a_repository_deletes_every_manifest(registry, image_layouts, crew):
    project, users, _ = crew
    admin = UserPrincipal(users["project_admin"])
    first = registry.push_and_index(image_layouts.single, "crew/whole", "a", admin)
    second = registry.push_and_index(image_layouts.multilayer, "crew/whole", "b", admin)

    response = client_as(users["maintainer"]).delete(url("whole"))

    assert response.status_code == 204
    assert registry.gone("crew/whole", first) and registry.gone("crew/whole", second)
    assert not Repository.objects.filter(name="crew/whole").exists()
    assert AuditEntry.objects.filter(action="delete", resource_type="repository", resource="crew/whole").exists()


def test_distribution_down_is_a_clear_503_and_nothing_changes(registry, image_layouts, crew, settings):
    project, users, _ = crew
    registry.push_and_index(image_layouts.single, "crew/down", "v1", UserPrincipal(users["project_admin"]))
    settings.REGISTRY_URL = "http://127.0.0.1:9"  # the discard port: nothing listens

    response = client_as(users["maintainer"]).delete(url("down/artifacts/v1"))

    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "registry_unavailable"
    assert Artifact.objects.filter(repository__name="crew/down").count() == 1


# -- who may read and delete -------------------------------------------------------------------


@pytest.fixture
def indexed(registry, image_layouts, crew):
    project, users, stranger = crew
    digest = registry.push_and_index(image_layouts.single, "crew/matrix", "v1", UserPrincipal(users["project_admin"]))
    return users, stranger, digest


READS = ["", "matrix", "matrix/artifacts", "matrix/artifacts/v1", "matrix/artifacts/v1/tags", "matrix/tags"]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_repositories_artifacts_and_tags(indexed, role):
    users, _, _ = indexed
    client = client_as(users[role])
    for path in READS:
        response = client.get(url(path).rstrip("/"))
        assert response.status_code == 200, (role, path, response.content)


def test_private_project_is_404_to_strangers_and_anonymous(indexed):
    _, stranger, _ = indexed
    for client in (client_as(stranger), client_as(None)):
        for path in READS:
            response = client.get(url(path).rstrip("/"))
            assert response.status_code == 404, (path, response.content)
            assert response.json()["errors"][0]["code"] == "project_not_found"


def test_public_project_is_readable_anonymously_but_not_deletable(indexed, make_project):
    from portal.projects.models import Project

    Project.objects.filter(name="crew").update(public=True)
    anonymous = client_as(None)

    assert [a["tags"][0]["name"] for a in anonymous.get(url("matrix/artifacts")).json()["results"]] == ["v1"]
    assert anonymous.get(url("matrix/artifacts/v1")).json()["config"]["user"] == "nobody"
    assert anonymous.delete(url("matrix/artifacts/v1")).status_code == 401
    assert anonymous.delete(url("matrix/artifacts/v1/tags/v1")).status_code == 401
    assert Tag.objects.filter(repository__name="crew/matrix").count() == 1


@pytest.mark.parametrize("role", ROLES)
def test_only_maintainers_and_admins_delete(indexed, registry, role):
    users, _, digest = indexed
    client = client_as(users[role])

    tag = client.delete(url(f"matrix/artifacts/{digest}/tags/v1"))
    if role not in MAY_DELETE:
        artifact = client.delete(url(f"matrix/artifacts/{digest}"))
        repository = client.delete(url("matrix"))
        assert (tag.status_code, artifact.status_code, repository.status_code) == (403, 403, 403)
        assert tag.json()["errors"][0]["message"] == f"{role} may not delete tag in project crew"
        assert artifact.json()["errors"][0]["message"] == f"{role} may not delete artifact in project crew"
        assert repository.json()["errors"][0]["message"] == f"{role} may not delete repository in project crew"
        assert services.list_tags("crew/matrix") == ["v1"] and not DeletedTag.objects.exists()
        assert not registry.gone("crew/matrix", digest)
        assert Artifact.objects.filter(repository__name="crew/matrix").count() == 1
        assert AuditEntry.objects.filter(outcome="denied").count() == 3
    else:
        assert tag.status_code == 204
        assert client.delete(url(f"matrix/artifacts/{digest}")).status_code == 200
        assert client.delete(url("matrix")).status_code == 204
        assert registry.gone("crew/matrix", digest)


def test_robots_read_and_delete_only_what_they_were_granted(indexed, make_robot, client_for):
    from portal.projects.models import Project

    project = Project.objects.get(name="crew")
    puller, puller_secret = make_robot(project=project, permissions=[("repository", "pull")])
    reader, reader_secret = make_robot(project=project, permissions=[
        ("repository", "list"), ("artifact", "list"), ("artifact", "read"), ("tag", "list"), ("tag", "delete")])
    as_puller = client_for(puller.full_name, puller_secret)
    as_reader = client_for(reader.full_name, reader_secret)

    refused = as_puller.get(url("matrix/artifacts"))
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["message"] == f"{puller.full_name} may not list artifact in project crew"
    assert as_reader.get(url("matrix/artifacts/v1")).status_code == 200
    assert as_reader.delete(url("matrix/artifacts/v1")).status_code == 403
    assert Artifact.objects.filter(repository__name="crew/matrix").count() == 1
    assert as_reader.delete(url("matrix/artifacts/v1/tags/v1")).status_code == 204
    assert services.list_tags("crew/matrix") == []
    assert [r["name"] for r in as_reader.get("/api/v1/repositories").json()["results"]] == ["crew/matrix"]
    assert as_puller.get("/api/v1/repositories").json()["results"] == []


def _index(children):
    return {"schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body),
                           "platform": {"os": "linux", "architecture": arch}} for digest, body, arch in children]}


def test_a_child_shared_with_another_index_survives_and_referrers_go_with_their_subject(registry, crew):
    project, users, _ = crew
    admin = UserPrincipal(users["project_admin"])

    def push(reference, body, digest, media_type=OCI_MANIFEST):
        services.record_manifest_push(admin, "crew/shared", reference, digest, media_type, body,
                                      client=registry.client)

    amd = registry.image("crew/shared", "amd", config={**IMAGE_CONFIG, "architecture": "amd64"}, layers=[b"a"])
    arm = registry.image("crew/shared", "arm", config=IMAGE_CONFIG, layers=[b"b"])
    for body, digest in (amd, arm):
        push(digest, body, digest)
    both_body, both = registry.put_manifest("crew/shared", "both", _index([(amd[1], amd[0], "amd64"),
                                                                          (arm[1], arm[0], "arm64")]))
    amd_only_body, amd_only = registry.put_manifest("crew/shared", "amd-only", _index([(amd[1], amd[0], "amd64")]))
    push("both", both_body, both, OCI_INDEX)
    push("amd-only", amd_only_body, amd_only, OCI_INDEX)
    signature = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
                 "config": registry.upload_blob("crew/shared", b"{}", "application/vnd.oci.empty.v1+json"),
                 "layers": [registry.upload_blob("crew/shared", b"signed")],
                 "subject": {"mediaType": OCI_INDEX, "digest": both, "size": len(both_body)}}
    signature_body, signature_digest = registry.put_manifest(
        "crew/shared", sha256(json.dumps(signature, sort_keys=True).encode()), signature)
    push(signature_digest, signature_body, signature_digest)
    assert Repository.objects.get(name="crew/shared").artifact_count == 2

    deleted = client_as(users["maintainer"]).delete(url("shared/artifacts/both")).json()["deleted"]

    assert sorted(deleted) == sorted([both, arm[1], signature_digest])
    assert all(registry.gone("crew/shared", digest) for digest in deleted)
    assert not registry.gone("crew/shared", amd[1])
    remaining = dict(Artifact.objects.filter(repository__name="crew/shared").values_list("digest", "parent_count"))
    assert remaining == {amd_only: 0, amd[1]: 1}
    repository = Repository.objects.get(name="crew/shared")
    assert (repository.artifact_count, repository.tag_count) == (1, 1)
    assert repository.size == Artifact.objects.get(digest=amd_only, repository=repository).size
