"""Deploy-time environment: values only to those who may deploy, secret values to no one but the agent."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.utils import timezone

from portal.audit.models import AuditEntry
from portal.fleet import convergence
from portal.fleet.agent_client import agents_answered_by
from portal.fleet.models import Container, Host
from portal.utilities import encryption
from tests.fleet.fake_agent import FakeAgent
from tests.fleet.portal_helpers import FACTS, index_artifact

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_password_hashing")]

SECRET = "hunter2-s3cr3t"
PLAIN = "prod-mode"
HIDDEN = [{"name": "MODE", "value": None, "secret": False}, {"name": "DB_PASSWORD", "value": None, "secret": True}]
SHOWN = [{"name": "MODE", "value": PLAIN, "secret": False}, {"name": "DB_PASSWORD", "value": None, "secret": True}]


class RecordingAgent(FakeAgent):
    """The fake agent, keeping the create requests it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[dict[str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/containers":
            self.created.append(json.loads(request.content))
        return super().handle(request)


@pytest.fixture
def agent(monkeypatch: Any, settings: Any) -> Iterator[RecordingAgent]:
    fake = RecordingAgent()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setattr("portal.fleet.registry_tokens.issue_pull_token", lambda repository: f"token-for-{repository}")
    with agents_answered_by(fake.transport()):
        yield fake


@pytest.fixture
def world(make_user: Callable[..., Any], make_project: Callable[..., Any], client_for: Callable[..., Any],
          admin_user: Any) -> dict[str, Any]:
    users = {role: make_user() for role in ("project_admin", "maintainer", "developer", "guest", "limited_guest")}
    project = make_project("team", members={user: role for role, user in users.items()})
    index_artifact(project, "web", "v1")
    Host.objects.create(name="node-a", address="http://node-a:7070", public_key="x" * 43, facts=FACTS,
                        last_heartbeat_at=timezone.now())
    return {"project": project, "admin": client_for(admin_user), **{role: client_for(user) for role, user in users.items()}}


def deploy_with_secret(world: dict[str, Any], **body: Any) -> Any:
    response = world["developer"].post("/api/v1/projects/team/containers", {
        "repository": "web", "reference": "v1", "name": "site", "host": "node-a", "env": {"MODE": PLAIN},
        "secret_env": {"DB_PASSWORD": SECRET}, **body,
    }, format="json")  # fmt: skip
    assert response.status_code == 202, response.json()
    return response


def readings(client: Any) -> list[Any]:
    """Every container representation the project's API serves the caller."""
    base = "/api/v1/projects/team"
    return [
        client.get(f"{base}/containers/site"),
        client.get(f"{base}/containers"),
        client.get(f"{base}/repositories/web/artifacts/v1/containers"),
    ]


def test_a_guest_reading_a_container_sees_the_names_but_no_values(world: dict[str, Any], agent: RecordingAgent) -> None:
    deploy_with_secret(world)
    for response in readings(world["guest"]):
        assert response.status_code == 200
        body = response.json()
        shown = body["results"][0] if "results" in body else body
        assert shown["env"] == HIDDEN
        assert "env" not in shown["spec"]
        assert PLAIN not in response.content.decode() and SECRET not in response.content.decode()


@pytest.mark.parametrize("role", ["developer", "maintainer", "project_admin", "admin"])
def test_those_who_may_deploy_see_plain_values_but_never_secret_ones(world: dict[str, Any], agent: RecordingAgent,
                                                                     role: str) -> None:
    deployed = deploy_with_secret(world)
    assert deployed.json()["env"] == SHOWN
    for response in readings(world[role]):
        body = response.json()
        assert (body["results"][0] if "results" in body else body)["env"] == SHOWN
        assert SECRET not in response.content.decode()
    stopped = world[role].post("/api/v1/projects/team/containers/site/stop")
    assert stopped.json()["env"] == SHOWN


def test_the_hosts_listing_hides_secrets_from_administrators_too(world: dict[str, Any], agent: RecordingAgent) -> None:
    deploy_with_secret(world)
    response = world["admin"].get("/api/v1/hosts/node-a/containers")
    assert response.json()["results"][0]["env"] == SHOWN
    assert SECRET not in response.content.decode()


def test_the_stored_row_holds_ciphertext_and_the_audit_log_only_the_name(world: dict[str, Any],
                                                                         agent: RecordingAgent) -> None:
    deploy_with_secret(world)
    with connection.cursor() as cursor:
        cursor.execute("SELECT spec::text, secret_env::text FROM fleet_container")
        spec_text, secret_text = cursor.fetchone()
    assert SECRET not in spec_text and SECRET not in secret_text
    token = json.loads(secret_text)["DB_PASSWORD"]
    assert encryption.decrypt(token) == SECRET
    entry = AuditEntry.objects.get(resource_type="container", action="create")
    assert entry.detail["secret_env"] == ["DB_PASSWORD"]
    assert SECRET not in json.dumps(list(AuditEntry.objects.values()), default=str)


def test_the_agent_alone_receives_the_decrypted_value(world: dict[str, Any], agent: RecordingAgent,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    deploy_with_secret(world)
    record = Container.objects.select_related("project").get(name="site")
    assert record.status == "running"
    assert agent.created[0]["env"] == [f"MODE={PLAIN}", f"DB_PASSWORD={SECRET}"]
    assert convergence.agent_create_body(record, "sha256:" + "1" * 64)["env"] == [f"MODE={PLAIN}", f"DB_PASSWORD={SECRET}"]
    assert SECRET not in caplog.text


def test_a_value_encrypted_under_a_retired_key_still_reaches_the_agent(world: dict[str, Any], agent: RecordingAgent,
                                                                        settings: Any) -> None:
    settings.ENCRYPTION_KEYS = [old := Fernet.generate_key().decode()]
    record = Container.objects.select_related("project").get(pk=deploy_with_secret(world).json()["id"])
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    assert convergence.agent_create_body(record, "sha256:" + "1" * 64)["env"][-1] == f"DB_PASSWORD={SECRET}"


def test_a_secret_no_key_opens_fails_the_deployment_clearly(world: dict[str, Any], agent: RecordingAgent,
                                                            settings: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("portal.fleet.services._enqueue_converge", lambda container: None)
    deploy_with_secret(world)
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    convergence.converge(str(Container.objects.get(name="site").pk))
    record = Container.objects.get(name="site")
    assert (record.status, record.error_code) == ("failed", "secret_unreadable")
    assert record.error == ("the secret environment of site cannot be decrypted: "
                            "no configured encryption key opens this value (was its key removed?)")
    assert agent.created == []


@pytest.mark.parametrize(("body", "message"), [
    ({"secret_env": {"MODE": "x"}}, "MODE is given both in env and in secret_env"),
    ({"secret_env": {"1BAD": "x"}}, "invalid variable name '1BAD': a letter or '_', then letters, digits, '_', '.', '-'"),
    ({"secret_env": ["DB_PASSWORD=x"]}, 'secret_env: Expected a dictionary of items but got type "list".'),
])
def test_bad_secrets_are_refused_and_nothing_is_stored(world: dict[str, Any], agent: RecordingAgent,
                                                       body: dict[str, Any], message: str) -> None:
    response = world["developer"].post("/api/v1/projects/team/containers", {
        "repository": "web", "reference": "v1", "name": "site", "env": {"MODE": PLAIN}, **body}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == message
    assert Container.objects.count() == 0 and agent.created == []
