"""/api/v1/search: projects and repositories by name, only among those the caller may see."""

from __future__ import annotations

from typing import Any

import pytest

from portal.artifacts.models import Repository

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_password_hashing(settings: Any) -> None:
    # Scrypt is right for people and far too slow for a test that signs in on every request.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def catalogue(make_user: Any, make_project: Any) -> dict[str, Any]:
    member = make_user("member")
    projects = {
        "web-public": make_project("web-public", public=True),
        "web-private": make_project("web-private", members={member: "limited_guest"}),
        "web-secret": make_project("web-secret"),
        "db-public": make_project("db-public", public=True),
    }
    for project_name, repository in [
        ("web-public", "web-public/site"),
        ("web-private", "web-private/web-app"),
        ("web-secret", "web-secret/web-hidden"),
        ("db-public", "db-public/webdb"),
    ]:
        Repository.objects.create(project=projects[project_name], name=repository)
    return {"member": member, "projects": projects}


def found(response: Any) -> tuple[list[str], list[str]]:
    assert response.status_code == 200, response.content
    body = response.json()
    return [p["name"] for p in body["projects"]], [r["name"] for r in body["repositories"]]


def test_anonymous_callers_find_only_public_projects_and_their_repositories(catalogue, anonymous):
    # A repository's name includes its project's, so it matches on either part.
    assert found(anonymous.get("/api/v1/search", {"q": "web"})) == (
        ["web-public"],
        ["db-public/webdb", "web-public/site"],
    )


def test_members_also_find_their_private_projects(catalogue, client_for):
    projects, repositories = found(
        client_for(catalogue["member"]).get("/api/v1/search", {"q": "WEB"})
    )
    assert projects == ["web-private", "web-public"]
    assert repositories == ["db-public/webdb", "web-private/web-app", "web-public/site"]


def test_admins_find_everything(catalogue, admin_user, client_for):
    projects, repositories = found(client_for(admin_user).get("/api/v1/search", {"q": "web"}))
    assert projects == ["web-private", "web-public", "web-secret"]
    assert repositories == [
        "db-public/webdb",
        "web-private/web-app",
        "web-public/site",
        "web-secret/web-hidden",
    ]


def test_a_repository_result_names_its_project(catalogue, anonymous):
    body = anonymous.get("/api/v1/search", {"q": "site"}).json()
    assert body == {
        "projects": [],
        "repositories": [{"name": "web-public/site", "project": "web-public"}],
    }


def test_results_are_limited(catalogue, admin_user, client_for):
    projects, repositories = found(
        client_for(admin_user).get("/api/v1/search", {"q": "web", "limit": 1})
    )
    assert (projects, repositories) == (["web-private"], ["db-public/webdb"])


def test_a_robot_sees_only_the_projects_and_repositories_it_is_granted(
    catalogue, make_robot, client_for
):
    private = catalogue["projects"]["web-private"]
    robot, secret = make_robot(
        project=private, permissions=[("repository", "list"), ("repository", "pull")]
    )
    projects, repositories = found(
        client_for(f"robot${private.name}+{robot.name}", secret).get("/api/v1/search", {"q": "web"})
    )
    assert projects == ["web-private", "web-public"]
    assert repositories == ["db-public/webdb", "web-private/web-app", "web-public/site"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "q: This field is required."),
        ({"q": "   "}, "q: This field may not be blank."),
        ({"q": "x" * 256}, "q: Ensure this field has no more than 255 characters."),
        ({"q": "web", "limit": 101}, "limit: Ensure this value is less than or equal to 100."),
        ({"q": "web", "limit": "all"}, "limit: A valid integer is required."),
        ({"q": "web", "kind": "project"}, "kind: unknown field"),
    ],
)
def test_bad_queries_are_refused(anonymous, params, message):
    response = anonymous.get("/api/v1/search", params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == message


def test_a_robot_without_repository_listing_does_not_find_the_projects_repositories(
    catalogue, make_robot, client_for
):
    private = catalogue["projects"]["web-private"]
    robot, secret = make_robot(project=private, permissions=[("artifact", "read")])
    projects, repositories = found(
        client_for(f"robot${private.name}+{robot.name}", secret).get("/api/v1/search", {"q": "web"})
    )
    assert projects == ["web-private", "web-public"]
    assert repositories == ["db-public/webdb", "web-public/site"]


def test_searching_costs_the_same_number_of_queries_for_more_matches(
    make_user, make_project, client_for
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    member = make_user()
    client = client_for(member)

    def queries_for_search() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/search", {"q": "app", "limit": 100}).status_code == 200
        return len(captured)

    def add_projects(count: int) -> None:
        for _ in range(count):
            project = make_project(members={member: "guest"})
            Repository.objects.create(project=project, name=f"{project.name}/app")

    add_projects(2)
    few = queries_for_search()
    add_projects(20)
    assert queries_for_search() == few
