"""List endpoints run a fixed number of SQL queries, however many rows they return."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


def query_count(client: Any, url: str) -> int:
    client.get(url)  # warms per-process caches (system settings row, content types) out of the count
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


def grows(client: Any, url: str, add_rows: Callable[[int], None]) -> tuple[int, int]:
    add_rows(3)
    few = query_count(client, url)
    add_rows(27)
    many = query_count(client, url)
    assert client.get(url).json()["count"] >= 30
    return few, many


def test_projects_as_admin(admin_user, make_user, make_project, client_for):
    def add(n: int) -> None:
        for _ in range(n):
            make_project(members={make_user(): "developer"})

    few, many = grows(client_for(admin_user), "/api/v1/projects?page_size=100", add)
    assert few == many


def test_projects_as_member(make_user, make_project, client_for):
    member = make_user("member")

    def add(n: int) -> None:
        for index in range(n):
            make_project(members={member: "guest" if index % 2 else "maintainer", make_user(): "project_admin"})
            make_project()  # invisible ones must not cost either

    few, many = grows(client_for(member), "/api/v1/projects?page_size=100", add)
    assert few == many


def test_members(make_user, make_project, client_for):
    owner = make_user("owner")
    project = make_project("app", members={owner: "project_admin"})

    def add(n: int) -> None:
        from portal.projects.models import Member

        for _ in range(n):
            Member.objects.create(project=project, user=make_user(), role="developer")

    few, many = grows(client_for(owner), "/api/v1/projects/app/members?page_size=100", add)
    assert few == many


def test_project_robots(make_user, make_project, make_robot, client_for):
    owner = make_user("owner")
    project = make_project("app", members={owner: "project_admin"})

    def add(n: int) -> None:
        for _ in range(n):
            make_robot(project=project, permissions=[("repository", "pull"), ("repository", "push")])

    few, many = grows(client_for(owner), "/api/v1/projects/app/robots?page_size=100", add)
    assert few == many


def test_system_robots(admin_user, make_project, make_robot, client_for):
    projects = [make_project() for _ in range(3)]

    def add(n: int) -> None:
        for _ in range(n):
            make_robot(permissions=[(p, "repository", "pull") for p in projects] + [("*", "artifact", "read")])

    few, many = grows(client_for(admin_user), "/api/v1/robots?page_size=100", add)
    assert few == many


def test_users(admin_user, make_user, client_for):
    few, many = grows(client_for(admin_user), "/api/v1/users?page_size=100",
                      lambda n: [make_user() for _ in range(n)])
    assert few == many


def test_tokens(make_user, make_token, client_for):
    owner = make_user("owner")
    few, many = grows(client_for(owner), "/api/v1/users/current/tokens?page_size=100",
                      lambda n: [make_token(owner) for _ in range(n)])
    assert few == many


def test_user_search(make_user, client_for):
    searcher = make_user("searcher")
    few, many = grows(client_for(searcher), "/api/v1/users/search?q=user&page_size=100",
                      lambda n: [make_user() for _ in range(n)])
    assert few == many


def test_projects_as_a_directory_user_in_many_groups(make_project, client_for, make_ldap_source):
    """Group roles cost no query per group nor per project: the user's groups are stored at sign-in."""
    from portal.accounts.models import User, UserGroup
    from portal.projects.models import GroupMember
    from tests.support.openldap import PASSWORD

    source = make_ldap_source()
    client = client_for("alice", PASSWORD)
    assert client.get("/api/v1/users/current").status_code == 200
    alice = User.objects.get(username="alice+corp")
    groups = [f"cn=team{index},ou=groups,dc=berth,dc=test" for index in range(50)]
    UserGroup.objects.bulk_create([UserGroup(user=alice, group=group) for group in groups])

    def add(n: int) -> None:
        for index in range(n):
            project = make_project()
            GroupMember.objects.create(project=project, source=source, group=groups[index % 50],
                                       role="guest" if index % 2 else "maintainer")
            make_project()  # invisible ones must not cost either

    few, many = grows(client, "/api/v1/projects?page_size=100", add)
    assert few == many
    few_permissions = query_count(client, "/api/v1/users/current/permissions")
    add(10)
    assert query_count(client, "/api/v1/users/current/permissions") == few_permissions
