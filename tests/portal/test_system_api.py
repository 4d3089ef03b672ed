"""System info, run-time settings (admins only, bounded, audited) and read-only mode."""

from __future__ import annotations

from typing import Any

import pytest

from portal.audit.models import AuditEntry
from portal.projects.models import Project
from portal.system.models import SystemSettings
from portal.system.services import get_system_settings
from tests.fixtures.portal import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_password_hashing(settings: Any) -> None:
    # Scrypt is right for people and far too slow for a test that signs in on every request.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


BASIC_INFO = {"external_url", "registry_url", "auth_mode", "read_only"}


def read_only_on() -> None:
    SystemSettings.objects.update_or_create(pk=1, defaults={"read_only": True})


def test_anonymous_callers_get_only_what_a_sign_in_page_needs(anonymous, settings):
    settings.EXTERNAL_URL = "https://berth.example.com/"
    body = anonymous.get("/api/v1/systeminfo").json()
    assert body == {
        "external_url": "https://berth.example.com",
        "registry_url": "berth.example.com",
        "auth_mode": "local",
        "read_only": False,
    }


def test_signed_in_users_also_see_the_version_and_project_creation_rule(make_user, client_for):
    body = client_for(make_user()).get("/api/v1/systeminfo").json()
    assert set(body) == BASIC_INFO | {"version", "project_creation_admin_only"}
    assert body["version"] == "0.1.0"


def test_admins_also_see_the_registry_token_lifetime(admin_user, client_for):
    body = client_for(admin_user).get("/api/v1/systeminfo").json()
    assert body["registry_token_lifetime_seconds"] == 1800


def test_admin_reads_and_changes_settings_and_the_change_is_audited(admin_user, client_for):
    client = client_for(admin_user)
    assert client.get("/api/v1/system/settings").json()["registry_token_lifetime_seconds"] == 1800
    response = client.patch(
        "/api/v1/system/settings",
        {"registry_token_lifetime_seconds": 600, "project_creation_admin_only": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["registry_token_lifetime_seconds"] == 600
    row = get_system_settings()
    assert (
        row.registry_token_lifetime_seconds,
        row.project_creation_admin_only,
        row.read_only,
    ) == (600, True, False)
    audit = AuditEntry.objects.get(action="update", resource_type="configuration")
    assert audit.actor == admin_user.username
    assert audit.detail == {
        "from": {"registry_token_lifetime_seconds": 1800, "project_creation_admin_only": False},
        "to": {"registry_token_lifetime_seconds": 600, "project_creation_admin_only": True},
    }


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"registry_token_lifetime_seconds": 59},
            "registry_token_lifetime_seconds: Ensure this value is greater than or equal to 60.",
        ),
        (
            {"registry_token_lifetime_seconds": 86401},
            "registry_token_lifetime_seconds: Ensure this value is less than or equal to 86400.",
        ),
        (
            {"registry_token_lifetime_seconds": "soon"},
            "registry_token_lifetime_seconds: A valid integer is required.",
        ),
        ({"read_only": "maybe"}, "read_only: Must be a valid boolean."),
        ({"colour": "red"}, "colour: unknown field"),
        ({"updated_at": "2026-01-01T00:00:00Z"}, "updated_at: unknown field"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(admin_user, client_for, payload, message):
    response = client_for(admin_user).patch("/api/v1/system/settings", payload, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == message
    row = get_system_settings()
    assert (row.registry_token_lifetime_seconds, row.read_only) == (1800, False)
    assert not AuditEntry.objects.filter(resource_type="configuration", outcome="success").exists()


def test_malformed_json_is_a_400(admin_user, client_for):
    response = client_for(admin_user).generic(
        "PATCH", "/api/v1/system/settings", "{nope", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "malformed_request"


def test_people_who_are_not_admins_may_not_read_or_change_settings(
    make_user, client_for, anonymous
):
    person = make_user()
    client = client_for(person)
    assert client.get("/api/v1/system/settings").status_code == 403
    response = client.patch("/api/v1/system/settings", {"read_only": True}, format="json")
    assert response.status_code == 403
    assert (
        response.json()["errors"][0]["message"] == f"{person.username} may not update configuration"
    )
    assert (
        anonymous.patch("/api/v1/system/settings", {"read_only": True}, format="json").status_code
        == 401
    )
    assert get_system_settings().read_only is False
    assert AuditEntry.objects.filter(actor=person.username, outcome="denied").count() == 1


def test_project_creation_can_be_restricted_to_admins(make_user, admin_user, client_for):
    SystemSettings.objects.update_or_create(pk=1, defaults={"project_creation_admin_only": True})
    assert (
        client_for(make_user())
        .post("/api/v1/projects", {"name": "mine"}, format="json")
        .status_code
        == 403
    )
    assert (
        client_for(admin_user).post("/api/v1/projects", {"name": "ours"}, format="json").status_code
        == 201
    )
    assert list(Project.objects.values_list("name", flat=True)) == ["ours"]


def test_read_only_mode_refuses_writes_with_403_read_only(make_user, admin_user, make_project, client_for):
    person = make_user()
    make_project("team", members={person: "project_admin"})
    read_only_on()
    for client in (client_for(person), client_for(admin_user)):
        response = client.post("/api/v1/projects", {"name": "new"}, format="json")
        assert response.status_code == 403
        assert response.json() == {
            "errors": [
                {
                    "code": "read_only",
                    "message": "Berth is in read-only mode: an administrator has paused every change",
                }
            ]
        }
    assert client_for(person).delete("/api/v1/projects/team").status_code == 403
    assert sorted(Project.objects.values_list("name", flat=True)) == ["team"]


def test_read_only_mode_still_serves_reads_and_sign_in(
    make_user, make_project, client_for, anonymous
):
    person = make_user()
    make_project("team", members={person: "guest"})
    read_only_on()
    assert client_for(person).get("/api/v1/projects/team").status_code == 200
    login = anonymous.post(
        "/api/v1/auth/login", {"username": person.username, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200, login.content


def test_an_admin_turns_read_only_mode_off_while_it_is_on(admin_user, client_for):
    read_only_on()
    client = client_for(admin_user)
    response = client.patch("/api/v1/system/settings", {"read_only": False}, format="json")
    assert response.status_code == 200
    assert get_system_settings().read_only is False
    assert client.post("/api/v1/projects", {"name": "after"}, format="json").status_code == 201


def test_systeminfo_reports_read_only_mode(anonymous: Any):
    read_only_on()
    assert anonymous.get("/api/v1/systeminfo").json()["read_only"] is True


def test_a_view_may_declare_itself_exempt_from_read_only_mode(rf):
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from portal.system.middleware import ReadOnlyModeMiddleware

    class Heartbeat(APIView):
        read_only_exempt = True

        def post(self, request: Any) -> Response:
            return Response({"ok": True})

    class Ordinary(APIView):
        def post(self, request: Any) -> Response:
            return Response({"ok": True})

    read_only_on()
    middleware = ReadOnlyModeMiddleware(lambda request: None)  # type: ignore[arg-type, return-value]
    request = rf.post("/api/v1/anything")
    request.resolver_match = None
    assert middleware.process_view(request, Heartbeat.as_view(), (), {}) is None
    refused = middleware.process_view(request, Ordinary.as_view(), (), {})
    assert refused is not None and refused.status_code == 403


def test_systeminfo_never_reveals_internal_addresses(admin_user, client_for, settings):
    settings.REGISTRY_URL = "http://10.9.8.7:5001"
    settings.EXTERNAL_URL = "https://berth.example.com"
    body = client_for(admin_user).get("/api/v1/systeminfo").content
    assert b"10.9.8.7" not in body
    assert b"berth.example.com" in body
