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
