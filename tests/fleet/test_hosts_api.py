"""Join tokens, registration, signed heartbeats and host management through the portal's API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from portal.fleet.models import Host, JoinToken
from runtime_agent.agent.signing import Signer, new_private_key
from tests.fleet.portal_helpers import FACTS, join

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


@pytest.fixture
def admin(client_for: Callable[..., Any], admin_user: Any) -> Any:
    return client_for(admin_user)


def new_token(admin: Any, **options: Any) -> str:
    response = admin.post("/api/v1/hosts/join-tokens", options, format="json")
    assert response.status_code == 201, response.json()
    return str(response.json()["token"])


def test_an_admin_creates_a_join_token_shown_once_and_hashed(admin: Any) -> None:
    response = admin.post("/api/v1/hosts/join-tokens", {"description": "rack 1", "max_uses": 2}, format="json")
    assert response.status_code == 201
    secret = response.json()["token"]
    assert secret.startswith("berth_join_")
    stored = JoinToken.objects.get()
    assert secret not in (stored.secret_hash, stored.prefix) and stored.secret_hash.startswith("sha256$")
    listed = admin.get("/api/v1/hosts/join-tokens").json()["results"]
    assert [t["prefix"] for t in listed] == [secret[:12]]
    assert "token" not in listed[0]


@pytest.mark.parametrize("role", [None, "developer", "project_admin"])
def test_only_admins_create_join_tokens_or_list_hosts(client_for: Callable[..., Any], make_user: Any,
                                                      make_project: Any, role: str | None) -> None:
    user = make_user()
    if role:
        make_project(members={user: role})
    client = client_for(user)
    assert client.post("/api/v1/hosts/join-tokens", {}, format="json").status_code == 403
    assert client.get("/api/v1/hosts").status_code == 403
    assert JoinToken.objects.count() == 0


def test_anonymous_is_asked_to_sign_in(anonymous: Any) -> None:
    assert anonymous.get("/api/v1/hosts").status_code == 401


def test_join_registers_the_host_with_the_token_labels(admin: Any, anonymous: Any) -> None:
    token = new_token(admin, labels={"zone": "a"})
    response = join(anonymous, token, "node-1", {"disk": "ssd"})
    assert response.status_code == 201
    assert set(response.json()) == {"id", "name", "portal_public_key", "heartbeat_seconds"}
    host = Host.objects.get(name="node-1")
    assert host.labels == {"zone": "a", "disk": "ssd"}
    assert host.facts["cpus"] == 4


def test_a_single_use_token_works_once(admin: Any, anonymous: Any) -> None:
    token = new_token(admin)
    assert join(anonymous, token, "node-1").status_code == 201
    again = join(anonymous, token, "node-2")
    assert again.status_code == 401
    assert again.json()["errors"][0] == {"code": "invalid_join_token",
                                         "message": "the join token is invalid, expired or used up (used up)"}
    assert list(Host.objects.values_list("name", flat=True)) == ["node-1"]


def test_a_multi_use_token_joins_many_hosts(admin: Any, anonymous: Any) -> None:
    token = new_token(admin, max_uses=None)
    for n in range(3):
        assert join(anonymous, token, f"node-{n}").status_code == 201
    assert JoinToken.objects.get().use_count == 3


def test_expired_revoked_and_unknown_tokens_are_refused(admin: Any, anonymous: Any) -> None:
    expired = new_token(admin)
    JoinToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert join(anonymous, expired, "a").json()["errors"][0]["message"].endswith("(expired)")
    revoked = new_token(admin)
    token_id = JoinToken.objects.get(revoked=False, expires_at__gt=timezone.now()).pk
    assert admin.delete(f"/api/v1/hosts/join-tokens/{token_id}").status_code == 204
    assert join(anonymous, revoked, "b").json()["errors"][0]["message"].endswith("(revoked)")
    assert join(anonymous, "berth_join_nope", "c").json()["errors"][0]["message"].endswith("(unknown)")
    assert Host.objects.count() == 0


def test_join_validates_its_input(admin: Any, anonymous: Any) -> None:
    token = new_token(admin, max_uses=None)
    assert join(anonymous, token, "bad name").status_code == 400
    assert join(anonymous, token, "ok", address="ftp://x").json()["errors"][0]["code"] == "invalid"
    assert join(anonymous, token, "ok").status_code == 201
    assert join(anonymous, token, "ok").status_code == 409


@pytest.fixture
def joined(admin: Any, anonymous: Any) -> Any:
    return join(anonymous, new_token(admin), "node-1").joined


def test_a_signed_heartbeat_marks_the_host_online(admin: Any, anonymous: Any, joined: Any) -> None:
    assert admin.get("/api/v1/hosts/node-1").json()["status"] == "unreachable"
    response = joined.heartbeat(anonymous, {"facts": {**FACTS, "containers_running": 2}, "containers": []})
    assert response.status_code == 200
    host = admin.get("/api/v1/hosts/node-1").json()
    assert host["status"] == "online"
    assert host["last_heartbeat_at"] is not None
    assert host["capacity"] == {"cpus": 4, "memory_bytes": 8 * 2**30, "disk_bytes": 100 * 2**30}
    assert host["usage"]["containers_running"] == 2
    assert host["usage"]["memory_used_bytes"] == 2 * 2**30


def test_heartbeats_go_on_in_read_only_mode(admin: Any, anonymous: Any, joined: Any) -> None:
    from portal.system.models import SystemSettings

    SystemSettings.objects.update_or_create(pk=1, defaults={"read_only": True})
    response = joined.heartbeat(anonymous, {"facts": FACTS, "containers": []})
    assert response.status_code == 200
    assert admin.get("/api/v1/hosts/node-1").json()["status"] == "online"


def test_a_heartbeat_without_signature_is_refused(anonymous: Any, joined: Any) -> None:
    response = anonymous.post("/api/v1/hosts/heartbeat", data=b"{}", content_type="application/json")
    assert response.status_code == 401
    assert Host.objects.get().last_heartbeat_at is None


def test_a_heartbeat_signed_by_another_key_is_refused(anonymous: Any, joined: Any) -> None:
    joined.signer = Signer(new_private_key(), joined.id)
    response = joined.heartbeat(anonymous)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "signature does not verify for this request"


def test_a_replayed_heartbeat_is_refused(anonymous: Any, joined: Any) -> None:
    import json

    body = json.dumps({"facts": FACTS, "containers": []}).encode()
    header = joined.signer.header("portal", "POST", "/api/v1/hosts/heartbeat", body)
    assert joined.heartbeat(anonymous, header=header).status_code == 200
    replay = joined.heartbeat(anonymous, header=header)
    assert replay.status_code == 401
    assert replay.json()["errors"][0]["message"] == "signature replayed: not newer than the last heartbeat"


def test_a_stale_heartbeat_is_refused(anonymous: Any, joined: Any, monkeypatch: Any) -> None:
    from runtime_agent.agent import signing

    real = signing.now_us
    monkeypatch.setattr(signing, "now_us", lambda: real() - 120_000_000)
    header_body = joined.signer.header("portal", "POST", "/api/v1/hosts/heartbeat", b"{}")
    monkeypatch.setattr(signing, "now_us", real)
    response = anonymous.post("/api/v1/hosts/heartbeat", data=b"{}", content_type="application/json",
                              HTTP_AUTHORIZATION=header_body)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"].startswith("signature expired")


def test_a_host_missing_heartbeats_becomes_unreachable(admin: Any, anonymous: Any, joined: Any, settings: Any) -> None:
    joined.heartbeat(anonymous)
    Host.objects.update(last_heartbeat_at=timezone.now() - timedelta(seconds=settings.FLEET_UNREACHABLE_AFTER_SECONDS + 1))
    assert admin.get("/api/v1/hosts").json()["results"][0]["status"] == "unreachable"
    assert admin.get("/api/v1/hosts?status=unreachable").json()["count"] == 1
    assert admin.get("/api/v1/hosts?status=online").json()["count"] == 0


def test_drain_and_label(admin: Any, anonymous: Any, joined: Any) -> None:
    joined.heartbeat(anonymous)
    response = admin.patch("/api/v1/hosts/node-1", {"draining": True, "labels": {"tier": "web"}}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["labels"]) == ("draining", {"tier": "web"})
    assert admin.patch("/api/v1/hosts/node-1", {"labels": {"bad key!": "x"}}, format="json").status_code == 400


def test_removing_a_host_revokes_its_credential(admin: Any, anonymous: Any, joined: Any) -> None:
    assert admin.delete("/api/v1/hosts/node-1").status_code == 204
    response = joined.heartbeat(anonymous)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "unknown host credential: the host was removed or never joined"


def test_host_operations_are_audited(admin: Any, anonymous: Any, joined: Any) -> None:
    from portal.audit.models import AuditEntry

    admin.patch("/api/v1/hosts/node-1", {"draining": True}, format="json")
    admin.delete("/api/v1/hosts/node-1")
    actions = list(AuditEntry.objects.filter(resource_type="host").values_list("action", flat=True).order_by("id"))
    assert actions == ["join", "update", "delete"]


def test_the_local_agent_command_prints_a_token_only_until_the_agent_has_joined(
    anonymous: Any, tmp_path: Any, capsys: Any,
) -> None:  # fmt: skip
    from django.core.management import call_command

    from runtime_agent.agent import credential as credentials
    from runtime_agent.agent.credential import Credential

    call_command("fleet_join_token", local_state=tmp_path)
    token = capsys.readouterr().out.strip()
    assert token.startswith("berth_join_")
    host = join(anonymous, token, "local").joined
    saved = Credential("http://127.0.0.1:8000", host.id, "local", "k", "p", "http://127.0.0.1:7070")
    credentials.save(tmp_path, saved)
    assert oct(credentials.path_in(tmp_path).stat().st_mode & 0o777) == "0o600"
    call_command("fleet_join_token", local_state=tmp_path)
    assert capsys.readouterr().out == ""
    Host.objects.all().delete()  # a reset database: the credential names a host nobody knows
    call_command("fleet_join_token", local_state=tmp_path, output=tmp_path / "token")
    assert (tmp_path / "token").read_text().startswith("berth_join_")
    assert credentials.load(tmp_path) is None
