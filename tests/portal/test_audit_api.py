"""Audit log API: who may read which rows, filters, sorting, pagination and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from portal.audit.models import AuditEntry, Outcome
from portal.audit.services import record
from portal.rbac.principals import UserPrincipal
from portal.rbac.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_password_hashing(settings: Any) -> None:
    # Scrypt is right for people and far too slow for a test that signs in on every request.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def entry(
    action: str = "create",
    *,
    minutes: int = 0,
    project: Any = None,
    actor: str = "alice",
    resource_type: str = "project",
    resource: str = "thing",
    outcome: str = Outcome.SUCCESS,
    source_ip: str | None = "10.0.0.1",
) -> AuditEntry:
    row = record(
        None,
        action,
        resource_type,
        resource,
        project=project,
        outcome=outcome,
        source_ip=source_ip,
        actor_name=actor,
    )
    AuditEntry.objects.filter(pk=row.pk).update(time=T0 + timedelta(minutes=minutes))
    return row


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def admin_client(admin_user: Any) -> APIClient:
    # Authenticated without credentials, so sign-in bookkeeping never adds rows to the log under test.
    client = APIClient()
    client.force_authenticate(UserPrincipal(admin_user))
    return client


def test_admin_lists_every_row_newest_first_with_a_total(admin_client):
    first, second, third = entry(minutes=1), entry(minutes=3), entry(minutes=2)
    response = admin_client.get("/api/v1/audit-logs", {"page_size": 2, "action": "create"})
    body = response.json()
    assert body["count"] == 3
    assert ids(response) == [second.id, third.id]
    assert ids(
        admin_client.get("/api/v1/audit-logs", {"page_size": 2, "page": 2, "action": "create"})
    ) == [first.id]


def test_a_row_shows_who_did_what_where_and_when(admin_client, make_project):
    project = make_project("team")
    row = entry(
        "delete",
        project=project,
        actor="bob",
        resource_type="member",
        resource="carol",
        outcome=Outcome.DENIED,
        source_ip="192.0.2.7",
    )
    [shown] = admin_client.get("/api/v1/audit-logs", {"actor": "bob"}).json()["results"]
    assert shown == {
        "id": row.id,
        "time": "2026-03-01T12:00:00Z",
        "actor": "bob",
        "actor_kind": "anonymous",
        "action": "delete",
        "resource_type": "member",
        "resource": "carol",
        "project": "team",
        "outcome": "denied",
        "source_ip": "192.0.2.7",
        "detail": {},
    }


def test_the_list_is_sorted_oldest_first_on_request(admin_client):
    late, early = entry(minutes=5), entry(minutes=1)
    assert ids(admin_client.get("/api/v1/audit-logs", {"sort": "time", "action": "create"})) == [
        early.id,
        late.id,
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "bob"}, ["b"]),
        ({"action": "delete"}, ["b"]),
        ({"resource_type": "member"}, ["c"]),
        ({"resource": "ALP"}, ["a"]),
        ({"outcome": "failure"}, ["c"]),
        ({"project": "team"}, ["a", "b"]),
        ({"source_ip": "192.0.2.9"}, ["c"]),
        ({"from": "2026-03-01T12:10:00Z"}, ["b", "c"]),
        ({"to": "2026-03-01T12:10:00Z"}, ["a"]),
        ({"from": "2026-03-01T14:05:00+02:00", "to": "2026-03-01T12:25:00Z"}, ["b"]),
    ],
)
def test_filters(admin_client, make_project, params, expected):
    project = make_project("team")
    rows = {
        "a": entry("create", minutes=0, project=project, resource="alpha"),
        "b": entry("delete", minutes=20, project=project, actor="bob", resource="beta"),
        "c": entry(
            "create",
            minutes=30,
            resource_type="member",
            resource="gamma",
            outcome=Outcome.FAILURE,
            source_ip="192.0.2.9",
        ),
    }
    shown = ids(admin_client.get("/api/v1/audit-logs", params))
    assert sorted(name for name, row in rows.items() if row.id in shown) == expected
    assert len(shown) == len(expected)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (
            {"from": "yesterday"},
            "from",
            "from: must be an ISO 8601 date and time, such as 2026-01-31T12:00:00Z",
        ),
        (
            {"to": "2026-13-45T99:00"},
            "to",
            "to: must be an ISO 8601 date and time, such as 2026-01-31T12:00:00Z",
        ),
        (
            {"source_ip": "not-an-address"},
            "source_ip",
            "source_ip: Enter a valid IPv4 or IPv6 address.",
        ),
        (
            {"outcome": "maybe"},
            "outcome",
            "outcome: Select a valid choice. maybe is not one of the available choices.",
        ),
        ({"page_size": "5000"}, "page_size", "page_size: must be from 1 to 1000, not 5000"),
    ],
)
def test_bad_filters_are_refused_with_a_clear_message(admin_client, params, field, message):
    response = admin_client.get("/api/v1/audit-logs", params)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "invalid"
    assert error["message"] == message
    assert field in error["fields"]


def test_people_who_are_not_admins_cannot_read_the_whole_log(make_user, client_for, anonymous):
    entry()
    person = make_user()
    response = client_for(person).get("/api/v1/audit-logs")
    assert response.status_code == 403
    assert response.json()["errors"][0] == {
        "code": "forbidden",
        "message": f"{person.username} may not list log",
    }
    assert anonymous.get("/api/v1/audit-logs").json()["errors"][0]["code"] == "unauthorized"


def test_the_log_cannot_be_written_through_the_api(admin_client):
    row = entry()
    assert (
        admin_client.post("/api/v1/audit-logs", {"action": "forged"}, format="json").status_code
        == 405
    )
    assert admin_client.delete(f"/api/v1/audit-logs/{row.id}").status_code == 404
    assert AuditEntry.objects.filter(action="forged").count() == 0


@pytest.mark.parametrize("role", [Role.PROJECT_ADMIN, Role.MAINTAINER, Role.DEVELOPER, Role.GUEST])
def test_project_members_from_guest_up_read_their_project_rows_only(
    make_user, make_project, client_for, role
):
    reader = make_user()
    team, other = (
        make_project("team", members={reader: role}),
        make_project("other", members={reader: role}),
    )
    mine = entry(project=team)
    entry(project=other)
    entry()
    response = client_for(reader).get("/api/v1/projects/team/audit-logs")
    assert ids(response) == [mine.id]
    assert response.json()["count"] == 1


def test_a_deleted_projects_rows_stay_with_their_project_id(admin_client, make_project):
    project = make_project("gone")
    row = entry(project=project)
    project_id = project.id
    project.delete()
    assert AuditEntry.objects.get(pk=row.pk).project_id == project_id
    assert ids(admin_client.get("/api/v1/audit-logs", {"project": "gone"})) == [row.id]


def test_limited_guests_may_not_read_the_project_log(make_user, make_project, client_for):
    reader = make_user()
    entry(project=make_project("team", members={reader: Role.LIMITED_GUEST}))
    response = client_for(reader).get("/api/v1/projects/team/audit-logs")
    assert response.status_code == 403
    assert (
        response.json()["errors"][0]["message"]
        == f"{reader.username} may not list log in project team"
    )


def test_strangers_and_anonymous_callers_do_not_read_project_logs(
    make_user, make_project, client_for, anonymous
):
    entry(project=make_project("secret"))
    entry(project=make_project("open", public=True))
    stranger = client_for(make_user())
    assert stranger.get("/api/v1/projects/secret/audit-logs").status_code == 404
    assert stranger.get("/api/v1/projects/open/audit-logs").status_code == 403
    assert anonymous.get("/api/v1/projects/secret/audit-logs").status_code == 404
    assert anonymous.get("/api/v1/projects/open/audit-logs").status_code == 401


def test_project_log_filters_apply_within_the_project(make_user, make_project, client_for):
    reader = make_user()
    team = make_project("team", members={reader: Role.GUEST})
    entry("create", project=team)
    deletion = entry("delete", project=team, minutes=1)
    entry("delete")
    assert ids(
        client_for(reader).get("/api/v1/projects/team/audit-logs", {"action": "delete"})
    ) == [deletion.id]


def test_listing_costs_the_same_number_of_queries_for_more_rows(admin_client):
    def queries_for_listing() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get("/api/v1/audit-logs", {"page_size": 100}).status_code == 200
        return len(captured)

    for minute in range(3):
        entry(minutes=minute)
    few = queries_for_listing()
    for minute in range(40):
        entry(minutes=minute)
    assert queries_for_listing() == few


def test_a_robot_with_the_longest_names_is_audited_under_a_cut_name(make_user, make_project):
    from portal.audit.services import record
    from portal.rbac.principals import RobotPrincipal
    from portal.robots.models import Robot

    project = make_project("p" * 255)
    robot = Robot.objects.create(name="r" * 255, project=project, secret_hash="sha256$x")
    entry = record(RobotPrincipal(robot), "push", "repository", "p/app", project=project)
    entry.refresh_from_db()
    assert entry.actor == robot.full_name[:300]
    assert len(robot.full_name) == 6 + 255 + 1 + 255


def test_a_refused_write_is_audited_with_the_refusal_message(make_user, client_for):
    person = make_user()
    response = client_for(person).post("/api/v1/users", {"username": "mallory", "password": "x" * 16},
                                       format="json")
    assert response.status_code == 403
    message = response.json()["errors"][0]["message"]
    row = AuditEntry.objects.filter(outcome=Outcome.DENIED, resource="/api/v1/users").latest("id")
    assert row.detail == {"message": message}
    assert message != "None"
