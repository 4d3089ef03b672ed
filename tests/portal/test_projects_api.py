"""Projects API: creation rules, visibility and deletion."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEntry
from portal.projects.models import Member, Project

pytestmark = pytest.mark.django_db


def test_user_creates_project_and_becomes_its_admin(make_user, client_for):
    alice = make_user("alice")
    response = client_for(alice).post(
        "/api/v1/projects", {"name": "team-a", "public": False}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["current_user_role"] == "project_admin"
    assert Member.objects.get(project__name="team-a", user=alice).role == "project_admin"
    assert AuditEntry.objects.filter(
        action="create", resource_type="project", resource="team-a", actor="alice"
    ).exists()


@pytest.mark.parametrize("name", ["Upper", "-lead", "trail-", "a..b", "", "x" * 256, "sp ace", "ü"])
def test_bad_project_names_are_refused(make_user, client_for, name):
    response = client_for(make_user()).post("/api/v1/projects", {"name": name}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid"
    assert not Project.objects.exists()


def test_unknown_field_is_refused(make_user, client_for):
    response = client_for(make_user()).post(
        "/api/v1/projects", {"name": "ok", "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["fields"] == {"colour": ["unknown field"]}


def test_private_project_is_invisible_to_strangers(make_user, make_project, client_for, anonymous):
    make_project("secret")
    make_project("open", public=True)
    names = [p["name"] for p in client_for(make_user()).get("/api/v1/projects").json()["results"]]
    assert names == ["open"]
    assert anonymous.get("/api/v1/projects/secret").status_code == 404
    assert anonymous.get("/api/v1/projects/open").status_code == 200


def test_project_size_sums_its_repositories(make_project, anonymous):
    from portal.artifacts.models import Repository

    big = make_project("big", public=True)
    small = make_project("small", public=True)
    make_project("empty", public=True)
    Repository.objects.create(project=big, name="big/app", size=3_000_000_000)
    Repository.objects.create(project=big, name="big/db", size=500)
    Repository.objects.create(project=small, name="small/app", size=700)
    sizes = {p["name"]: p["size"] for p in anonymous.get("/api/v1/projects").json()["results"]}
    assert sizes == {"big": 3_000_000_500, "small": 700, "empty": 0}
    assert anonymous.get("/api/v1/projects/big").json()["size"] == 3_000_000_500


def test_projects_sort_by_size(make_project, anonymous):
    from portal.artifacts.models import Repository

    for name, size in [("a", 10), ("b", 30), ("c", 20)]:
        Repository.objects.create(project=make_project(name, public=True), name=f"{name}/app", size=size)
    make_project("d", public=True)
    ascending = [p["name"] for p in anonymous.get("/api/v1/projects?sort=size").json()["results"]]
    descending = [p["name"] for p in anonymous.get("/api/v1/projects?sort=-size").json()["results"]]
    assert ascending == ["d", "a", "c", "b"]
    assert descending == ["b", "c", "a", "d"]


def test_list_rows_are_the_detail_representation(admin_user, make_user, make_project, client_for, anonymous):
    """The list reads rows as dicts through its own loop; the detail goes through DRF: the two must agree."""
    from portal.artifacts.models import Repository

    member = make_user("rows-member")
    team = make_project("team", members={member: "developer", make_user(): "guest"})
    Project.objects.filter(pk=team.pk).update(owner=member)
    Repository.objects.create(project=team, name="team/app", size=1234)
    make_project("open", public=True)  # no owner
    make_project("hidden")
    for client in (client_for(member), client_for(admin_user), anonymous):
        listed = client.get("/api/v1/projects?sort=-member_count").json()["results"]
        assert listed, "every caller sees at least the public project"
        for row in listed:
            assert row == client.get(f"/api/v1/projects/{row['name']}").json()
    team_row = next(r for r in client_for(member).get("/api/v1/projects").json()["results"] if r["name"] == "team")
    assert (team_row["member_count"], team_row["repository_count"], team_row["size"]) == (2, 1, 1234)
    assert (team_row["owner"], team_row["current_user_role"]) == ("rows-member", "developer")
    assert team_row["created_at"].endswith("Z")


def test_only_a_system_admin_allows_host_binds_and_the_change_is_audited(admin_user, make_user, make_project,
                                                                         client_for):
    owner = make_user("binds-owner")
    project = make_project("binds", members={owner: "project_admin"})
    assert client_for(owner).get("/api/v1/projects/binds").json()["allow_host_binds"] is False

    refused = client_for(owner).patch("/api/v1/projects/binds", {"allow_host_binds": True}, format="json")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "admin_only"
    assert refused.json()["errors"][0]["message"] == (
        "only a system administrator may change whether project binds binds host paths")
    project.refresh_from_db()
    assert project.allow_host_binds is False
    # The owner's other changes still go through.
    assert client_for(owner).patch("/api/v1/projects/binds", {"description": "d"}, format="json").status_code == 200

    allowed = client_for(admin_user).patch("/api/v1/projects/binds", {"allow_host_binds": True}, format="json")
    assert allowed.status_code == 200
    assert allowed.json()["allow_host_binds"] is True
    project.refresh_from_db()
    assert project.allow_host_binds is True
    entry = AuditEntry.objects.filter(action="update", resource_type="project", resource="binds",
                                      actor="root-admin").get()
    assert entry.detail == {"allow_host_binds": True}
