"""The webhooks API: who may see and manage policies, secrets that never come back, validation and audit."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from portal.audit.models import AuditEntry
from portal.rbac.principals import UserPrincipal
from portal.utilities import encryption
from portal.webhooks.models import WebhookPolicy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
BASE = "/api/v1/projects/hooks/webhooks"
POLICY = {"name": "ci", "target_url": "http://127.0.0.1:9/hook", "event_types": ["artifact.pushed", "tag.deleted"],
          "secret": "s3cret-value", "auth_header": "Bearer receiver-token"}


def as_user(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=UserPrincipal(user))
    return client


@pytest.fixture
def people(make_user: Any, make_project: Any) -> dict[str, Any]:
    users = {role: make_user(f"hook-{role}") for role in ("project_admin", "maintainer", "developer", "guest",
                                                          "limited_guest")}
    make_project("hooks", members={users[role]: role for role in users})
    users["outsider"] = make_user("hook-outsider")
    users["admin"] = make_user("hook-admin", admin=True)
    return users


@pytest.fixture
def policy(people: dict[str, Any]) -> dict[str, Any]:
    response = as_user(people["project_admin"]).post(BASE, POLICY, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def test_a_project_admin_creates_a_policy_and_its_secrets_are_encrypted_and_never_returned(people, policy):
    stored = WebhookPolicy.objects.get(pk=policy["id"])

    assert policy["has_secret"] is True and policy["has_auth_header"] is True
    assert "secret" not in policy and "auth_header" not in policy
    assert "s3cret-value" not in str(policy) and "receiver-token" not in str(policy)
    assert encryption.decrypt(stored.secret_encrypted) == "s3cret-value"
    assert "s3cret-value" not in stored.secret_encrypted
    assert encryption.decrypt(stored.auth_header_encrypted) == "Bearer receiver-token"
    listed = as_user(people["maintainer"]).get(BASE).json()["results"]
    assert [p["name"] for p in listed] == ["ci"]
    assert "s3cret-value" not in str(listed) and "receiver-token" not in str(listed)
    entry = AuditEntry.objects.get(action="create", resource_type="webhook")
    assert entry.detail["secret"] == "set" and entry.detail["auth_header"] == "set"
    assert "s3cret-value" not in str(entry.detail)


@pytest.mark.parametrize("role", ["maintainer", "project_admin", "admin"])
def test_maintainers_and_above_read_policies_and_deliveries(people, policy, role):
    client = as_user(people[role])

    assert client.get(BASE).status_code == 200
    assert client.get(f"{BASE}/ci").json()["id"] == policy["id"]
    assert client.get(f"{BASE}/ci/deliveries").json()["results"] == []


@pytest.mark.parametrize("role", ["developer", "guest", "limited_guest"])
def test_developers_and_guests_cannot_see_policies(people, policy, role):
    client = as_user(people[role])

    for response in (client.get(BASE), client.get(f"{BASE}/ci"), client.get(f"{BASE}/ci/deliveries")):
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "forbidden"


def test_a_user_outside_a_private_project_gets_404(people, policy):
    response = as_user(people["outsider"]).get(BASE)

    assert response.status_code == 404
    assert response.json()["errors"][0] == {"code": "project_not_found", "message": "project 'hooks' not found"}


@pytest.mark.parametrize("role", ["maintainer", "developer", "guest"])
def test_only_project_admins_change_policies_and_a_refusal_changes_nothing(people, policy, role):
    client = as_user(people[role])
    before = list(WebhookPolicy.objects.values())

    responses = [client.post(BASE, {**POLICY, "name": "other"}, format="json"),
                 client.patch(f"{BASE}/ci", {"enabled": False}, format="json"),
                 client.delete(f"{BASE}/ci"), client.post(f"{BASE}/ci/test"), client.post(f"{BASE}/ci/resume")]

    assert [r.status_code for r in responses] == [403] * 5
    assert list(WebhookPolicy.objects.values()) == before


def test_an_update_replaces_or_removes_a_secret_and_is_audited(people, policy):
    client = as_user(people["project_admin"])

    changed = client.patch(f"{BASE}/ci", {"secret": "", "target_url": "https://example.invalid/x",
                                          "payload_format": "cloudevents"}, format="json")

    assert changed.status_code == 200, changed.content
    assert changed.json()["has_secret"] is False and changed.json()["has_auth_header"] is True
    assert changed.json()["payload_format"] == "cloudevents"
    entry = AuditEntry.objects.filter(action="update", resource_type="webhook").get()
    assert entry.detail["secret"] == "removed" and entry.detail["target_url"] == "https://example.invalid/x"
    assert client.delete(f"{BASE}/ci").status_code == 204
    assert AuditEntry.objects.filter(action="delete", resource_type="webhook", resource="ci").exists()


@pytest.mark.parametrize(("target", "code", "message"), [
    ("http://169.254.169.254/latest/meta-data", "target_refused",
     "target 169.254.169.254 refused: 169.254.169.254 is a link-local or cloud metadata address "
     "(BERTH_WEBHOOK_ALLOW_LINK_LOCAL allows it)"),
    ("http://[fd00:ec2::254]/", "target_refused",
     "target fd00:ec2::254 refused: fd00:ec2::254 is a link-local or cloud metadata address "
     "(BERTH_WEBHOOK_ALLOW_LINK_LOCAL allows it)"),
    ("http://0.0.0.0:8080/", "target_refused", "target 0.0.0.0 refused: 0.0.0.0 is the unspecified address"),
    ("ftp://example.com/", "invalid_target", "invalid target URL: the target URL must start with http:// or https://"),
    ("http://user:pw@example.com/", "invalid_target",
     "invalid target URL: credentials in the target URL are not allowed: use the auth header"),
])
def test_targets_berth_must_not_reach_are_refused(people, target, code, message):
    response = as_user(people["project_admin"]).post(BASE, {**POLICY, "target_url": target}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code
    assert response.json()["errors"][0]["message"] == message
    assert not WebhookPolicy.objects.exists()


def test_a_project_policy_cannot_ask_for_host_events_and_names_are_unique(people, policy):
    client = as_user(people["project_admin"])

    hosts = client.post(BASE, {**POLICY, "name": "fleet", "event_types": ["host.online"]}, format="json")
    again = client.post(BASE, POLICY, format="json")

    assert hosts.status_code == 400 and hosts.json()["errors"][0]["code"] == "invalid_event_type"
    assert again.status_code == 409
    assert again.json()["errors"][0] == {"code": "webhook_exists",
                                         "message": "a webhook policy named 'ci' already exists"}


def test_unknown_fields_are_refused(people):
    response = as_user(people["project_admin"]).post(BASE, {**POLICY, "secrets": "typo"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "secrets: unknown field"


def test_system_policies_are_for_administrators_only(people):
    body = {**POLICY, "event_types": ["host.unreachable", "artifact.pushed"]}

    refused = as_user(people["project_admin"]).post("/api/v1/system/webhooks", body, format="json")
    listed = as_user(people["project_admin"]).get("/api/v1/system/webhooks")
    created = as_user(people["admin"]).post("/api/v1/system/webhooks", body, format="json")

    assert refused.status_code == 403 and listed.status_code == 403
    assert created.status_code == 201, created.content
    assert created.json()["project"] is None
    assert created.json()["event_types"] == ["artifact.pushed", "host.unreachable"]
    assert as_user(people["admin"]).get("/api/v1/system/webhooks").json()["count"] == 1
