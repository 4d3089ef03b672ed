"""The browse API over images skopeo pushed straight into a real distribution and the index recorded."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from portal.artifacts.models import Artifact, Repository, Tag
from portal.rbac.principals import UserPrincipal
from tests.fixtures.artifacts import TWO_PLATFORMS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def as_user():
    """An API client acting as `user` (the principal is what authentication would build)."""

    def make(user):
        client = APIClient()
        client.force_authenticate(user=UserPrincipal(user))
        return client

    return make


@pytest.fixture
def team(make_user, make_project, settings):
    settings.EXTERNAL_URL = "https://berth.example.com"  # pull commands name this host
    owner = make_user("owner")
    project = make_project("team", members={owner: "project_admin"})
    return project, owner


def api(path: str) -> str:
    return f"/api/v1/projects/team/repositories/{path}"


def test_two_platform_index_shows_both_platforms_in_list_and_detail(registry, image_layouts, team, as_user):
    project, owner = team
    digest = registry.push_and_index(image_layouts.two_platforms, "team/multi", "1.0", UserPrincipal(owner))
    client = as_user(owner)

    listed = client.get(api("multi/artifacts"))
    detail = client.get(api("multi/artifacts/1.0"))

    assert listed.status_code == 200, listed.content
    [row] = listed.json()["results"]
    assert row["digest"] == digest and row["is_index"] is True
    assert sorted(f"{p['os']}/{p['architecture']}" for p in row["platforms"]) == sorted(TWO_PLATFORMS)
    assert [t["name"] for t in row["tags"]] == ["1.0"] and row["tag_count"] == 1
    assert row["pull_command"] == f"docker pull berth.example.com/team/multi@{digest}"
    assert detail.status_code == 200
    children = detail.json()["children"]
    assert sorted(c["platform"]["architecture"] for c in children) == ["amd64", "arm64"]
    assert all(c["size"] > 1_000_000 for c in children)  # busybox is in every child's size
    assert detail.json()["size"] == sum(c["size"] for c in children) + len(detail.content and
                                                                            bytes(Artifact.objects.get(digest=digest).manifest))
    child = client.get(api(f"multi/artifacts/{children[0]['digest']}")).json()
    assert child["parents"] == [digest]
    assert child["platforms"] == [children[0]["platform"]]


def test_artifact_detail_shows_layers_with_history_and_the_runtime_config(registry, image_layouts, team, as_user):
    project, owner = team
    registry.push_and_index(image_layouts.multilayer, "team/layers", "v1", UserPrincipal(owner))
    registry.push_and_index(image_layouts.single, "team/layers", "single", UserPrincipal(owner))

    detail = as_user(owner).get(api("layers/artifacts/v1")).json()
    single = as_user(owner).get(api("layers/artifacts/single")).json()

    assert len(detail["layers"]) == 3
    assert all(layer["media_type"] == "application/vnd.oci.image.layer.v1.tar+gzip" for layer in detail["layers"])
    assert all(layer["size"] > 0 and layer["diff_id"].startswith("sha256:") for layer in detail["layers"])
    assert [layer["created_by"] for layer in detail["layers"]] == ["tests/support/images.py"] * 3
    assert detail["size"] == (len(bytes(Artifact.objects.get(digest=detail["digest"]).manifest))
                              + detail["manifest"]["config"]["size"] + sum(lay["size"] for lay in detail["layers"]))
    config = detail["config"]
    assert config["cmd"] == ["sh"] and config["working_dir"] == "/"
    assert config["env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    assert config["labels"] == {"berth.test.platform": detail["platforms"][0]["os"] + "/"
                                + detail["platforms"][0]["architecture"]}
    assert (single["config"]["exposed_ports"], single["config"]["user"]) == (["8080/tcp"], "nobody")
    assert detail["manifest"]["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert detail["tags"][0]["pull_command"] == "docker pull berth.example.com/team/layers:v1"


def test_repository_list_has_counters_search_and_sorting(registry, image_layouts, team, as_user):
    project, owner = team
    principal = UserPrincipal(owner)
    registry.push_and_index(image_layouts.single, "team/alpha", "v1", principal)
    registry.push_and_index(image_layouts.single, "team/alpha", "v2", principal)
    registry.push_and_index(image_layouts.multilayer, "team/beta", "v1", principal)
    client = as_user(owner)

    by_name = client.get("/api/v1/projects/team/repositories").json()
    by_size = client.get("/api/v1/projects/team/repositories?sort=-size").json()
    searched = client.get("/api/v1/projects/team/repositories?q=ALP").json()

    assert [r["name"] for r in by_name["results"]] == ["team/alpha", "team/beta"]
    alpha = by_name["results"][0]
    assert (alpha["short_name"], alpha["artifact_count"], alpha["tag_count"]) == ("alpha", 1, 2)
    assert alpha["pull_command"] == "docker pull berth.example.com/team/alpha"
    assert alpha["size"] == Artifact.objects.get(repository__name="team/alpha").size
    assert [r["name"] for r in by_size["results"]] == ["team/beta", "team/alpha"]
    assert [r["name"] for r in searched["results"]] == ["team/alpha"]
    assert client.get(api("alpha")).json()["tag_count"] == 2


def test_nested_repository_names_work_plain_encoded_and_double_encoded(registry, image_layouts, team, as_user):
    project, owner = team
    digest = registry.push_and_index(image_layouts.single, "team/tools/builder", "v1", UserPrincipal(owner))
    client = as_user(owner)

    for name in ("tools/builder", quote("tools/builder", safe=""), quote(quote("tools/builder", safe=""), safe="")):
        repository = client.get(api(name))
        artifacts = client.get(api(f"{name}/artifacts"))
        tags = client.get(api(f"{name}/artifacts/v1/tags"))
        assert repository.status_code == 200, (name, repository.content)
        assert repository.json()["name"] == "team/tools/builder"
        assert [a["digest"] for a in artifacts.json()["results"]] == [digest]
        assert [t["name"] for t in tags.json()["results"]] == ["v1"]


def test_malformed_references_and_unknown_sorts_are_400(registry, image_layouts, team, as_user):
    project, owner = team
    registry.push_and_index(image_layouts.single, "team/strict", "v1", UserPrincipal(owner))
    client = as_user(owner)

    bad_digest = client.get(api("strict/artifacts/sha256:xyz"))
    bad_tag = client.get(api("strict/artifacts/.hidden"))
    bad_sort = client.get(api("strict/artifacts?sort=colour"))
    missing = client.get(api("strict/artifacts/v9"))

    assert bad_digest.status_code == 400
    assert bad_digest.json()["errors"][0]["code"] == "invalid_reference"
    assert bad_tag.json()["errors"][0]["message"].startswith("invalid reference '.hidden'")
    assert bad_sort.status_code == 400
    assert bad_sort.json()["errors"][0]["message"] == (
        "sort: cannot sort by colour; choose from pushed_at, created, size, pull_count, last_pulled_at, digest "
        "(prefix - for descending)")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["message"] == "artifact team/strict:v9 not found"
    assert client.get(api("nope/artifacts")).json()["errors"][0]["code"] == "repository_not_found"


def test_search_spans_only_projects_the_caller_can_see(make_user, make_project, as_user, anonymous):
    member = make_user()
    mine = make_project("mine", members={member: "guest"})
    other = make_project("other")
    public = make_project("open", public=True)
    for project in (mine, other, public):
        Repository.objects.create(project=project, name=f"{project.name}/web")

    found = as_user(member).get("/api/v1/repositories?q=web").json()
    anonymous_found = anonymous.get("/api/v1/repositories?q=web").json()
    admin_found = as_user(make_user(admin=True)).get("/api/v1/repositories").json()

    assert [r["name"] for r in found["results"]] == ["mine/web", "open/web"]
    assert [r["name"] for r in anonymous_found["results"]] == ["open/web"]
    assert admin_found["count"] == 3


def _seed(repository: Repository, count: int) -> None:
    now = timezone.now()
    artifacts = Artifact.objects.bulk_create(
        Artifact(repository=repository, digest=f"sha256:{i:064x}", media_type="application/vnd.oci.image.manifest.v1+json",
                 manifest=b"{}", size=i, pushed_at=now, os="linux", architecture="amd64", tag_count=1)
        for i in range(count))
    Tag.objects.bulk_create(Tag(repository=repository, name=f"v{i}", artifact=a, pushed_at=now)
                            for i, a in enumerate(artifacts))
    Repository.objects.filter(pk=repository.pk).update(artifact_count=count, tag_count=count)


@pytest.mark.parametrize("path", ["artifacts", "tags"])
def test_list_queries_do_not_grow_with_rows(team, as_user, path):
    project, owner = team
    small = Repository.objects.create(project=project, name="team/small")
    large = Repository.objects.create(project=project, name="team/large")
    _seed(small, 3)
    _seed(large, 60)
    client = as_user(owner)
    client.get(api(f"small/{path}"))  # the principal caches its role on the first request

    with CaptureQueriesContext(connection) as few:
        assert len(client.get(api(f"small/{path}?page_size=50")).json()["results"]) == 3
    with CaptureQueriesContext(connection) as many:
        page = client.get(api(f"large/{path}?page_size=50")).json()

    assert len(page["results"]) == 50 and page["count"] == 60
    assert len(many.captured_queries) == len(few.captured_queries)
    assert not any("COUNT(" in q["sql"].upper() and "artifacts_tag" in q["sql"] and "GROUP BY" not in q["sql"].upper()
                   for q in many.captured_queries if path == "tags")


def test_repository_tag_list_sorts_by_name_and_push_time(team, as_user):
    project, owner = team
    repository = Repository.objects.create(project=project, name="team/sorted")
    _seed(repository, 12)
    Tag.objects.filter(repository=repository, name="v3").update(pushed_at=timezone.now() + timezone.timedelta(hours=1))
    client = as_user(owner)

    by_name = client.get(api("sorted/tags?page_size=5&page=2")).json()
    newest = client.get(api("sorted/tags?sort=-pushed_at&page_size=1")).json()
    filtered = client.get(api("sorted/tags?q=v1")).json()
    keyset = client.get(api("sorted/tags?last=v2&page_size=3")).json()
    refused = client.get(api("sorted/tags?last=v2&sort=-pushed_at"))

    assert [t["name"] for t in by_name["results"]] == ["v3", "v4", "v5", "v6", "v7"]  # v0 v1 v10 v11 v2 come first
    assert by_name["count"] == 12
    assert newest["results"][0]["name"] == "v3"
    assert [t["name"] for t in filtered["results"]] == ["v1", "v10", "v11"] and filtered["count"] == 3
    assert [t["name"] for t in keyset["results"]] == ["v3", "v4", "v5"]
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == "last: last= pages by name: use it without sort, or with sort=name"


def test_repository_list_queries_do_not_grow_with_rows(make_user, make_project, as_user):
    owner = make_user()
    few_project = make_project("few", members={owner: "guest"})
    many_project = make_project("many", members={owner: "guest"})
    Repository.objects.bulk_create(Repository(project=few_project, name=f"few/r{i}") for i in range(2))
    Repository.objects.bulk_create(Repository(project=many_project, name=f"many/r{i}") for i in range(40))
    client = as_user(owner)
    client.get("/api/v1/projects/few/repositories")
    client.get("/api/v1/projects/many/repositories")

    with CaptureQueriesContext(connection) as few:
        assert client.get("/api/v1/projects/few/repositories").json()["count"] == 2
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/v1/projects/many/repositories?page_size=40").json()["results"]) == 40

    assert len(many.captured_queries) == len(few.captured_queries)


def test_history_entries_that_made_no_layer_are_skipped_when_matching_layers(registry, team, as_user):
    from portal.artifacts.services import record_manifest_push
    from tests.fixtures.artifacts import IMAGE_CONFIG as CONFIG

    project, owner = team
    body, digest = registry.image("team/built", "v1", config=CONFIG, layers=[b"base layer", b"install layer"])
    record_manifest_push(UserPrincipal(owner), "team/built", "v1", digest, "application/vnd.oci.image.manifest.v1+json",
                         body, client=registry.client)

    detail = as_user(owner).get(api("built/artifacts/v1")).json()

    assert [(layer["size"], layer["created_by"], layer["comment"]) for layer in detail["layers"]] == [
        (10, "ADD rootfs.tar /", ""), (13, "RUN make install", "buildkit")]
    assert [layer["diff_id"] for layer in detail["layers"]] == CONFIG["rootfs"]["diff_ids"]
    assert len(detail["history"]) == 4
    config = detail["config"]
    assert (config["entrypoint"], config["cmd"], config["user"]) == (["/bin/app"], ["--serve"], "1000:1000")
    assert (config["exposed_ports"], config["working_dir"]) == (["53/udp", "8080/tcp"], "/srv")
    assert (config["env"], config["author"]) == (["PATH=/bin", "MODE=test"], "berth tests")
    assert detail["platforms"] == [{"os": "linux", "architecture": "arm64", "variant": "v8"}]
    assert detail["created"] == "2025-03-04T05:06:07.123456Z"


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/projects/team/repositories/we%00b", 400),
    ("/api/v1/projects/team/repositories/web/artifacts?q=%00", 400),
    ("/api/v1/projects/team/repositories/We/B", 404),
    ("/api/v1/projects/team/repositories/web//x/artifacts", 404),
    ("/api/v1/projects/team/repositories/web/artifacts/..", 400),
    ("/api/v1/projects/team/repositories/web/artifacts/v1/tags/.x", 400),
    ("/api/v1/projects/team/repositories/web/artifacts?q=" + "x" * 129, 400),
    ("/api/v1/projects/team/repositories/web/tags?last=.x", 400),
    ("/api/v1/projects/team/repositories/web/tags?sort=-", 400),
    ("/api/v1/projects/team/repositories/web/tags?page=99999999999999999999999", 404),
    ("/api/v1/projects/team/repositories/web/tags?page_size=0", 400),
])
def test_hostile_values_are_clear_errors_not_500s(team, as_user, path, status):
    """Names outside the grammar are never looked up; malformed values are 400s, never 500s."""
    project, owner = team
    Repository.objects.create(project=project, name="team/web")
    client = as_user(owner)
    method = client.delete if "/tags/" in path else client.get

    response = method(path)

    assert response.status_code == status, response.content
    assert "errors" in response.json()


def test_artifact_list_pages_by_keyset_with_before(team, as_user):
    project, owner = team
    repository = Repository.objects.create(project=project, name="team/keyset")
    _seed(repository, 6)
    digests = list(Artifact.objects.filter(repository=repository).order_by("-pushed_at", "-id")
                   .values_list("digest", flat=True))
    client = as_user(owner)

    first = client.get(api("keyset/artifacts?page_size=2")).json()["results"]
    after = client.get(api(f"keyset/artifacts?page_size=2&before={first[-1]['digest']}")).json()["results"]
    unknown = client.get(api("keyset/artifacts?before=sha256:" + "9" * 64))
    sorted_otherwise = client.get(api(f"keyset/artifacts?before={digests[0]}&sort=size"))

    assert [a["digest"] for a in first + after] == digests[:4]  # same push time: ties break by id
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["message"] == f"before: no artifact 'sha256:{'9' * 64}' in this repository"
    assert sorted_otherwise.status_code == 400
