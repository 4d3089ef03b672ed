"""Deployments and their operations through the API, with the agent answered in memory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from portal.fleet import convergence, services
from portal.fleet.agent_client import agents_answered_by
from portal.fleet.models import Container, Host
from tests.fleet.fake_agent import FakeAgent
from tests.fleet.portal_helpers import FACTS, index_artifact

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_password_hashing")]


@pytest.fixture
def agent(monkeypatch: Any, settings: Any) -> Iterator[FakeAgent]:
    fake = FakeAgent()
    # Celery reads its configuration from Django's settings whenever asked.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setattr("portal.fleet.registry_tokens.issue_pull_token", lambda repository: f"token-for-{repository}")
    with agents_answered_by(fake.transport()):
        yield fake


def make_host(name: str, labels: dict[str, str] | None = None, memory_gib: int = 8, online: bool = True) -> Host:
    return Host.objects.create(
        name=name, labels=labels or {}, address=f"http://{name}:7070", public_key="x" * 43,
        facts={**FACTS, "memory_bytes": memory_gib * 2**30}, last_heartbeat_at=timezone.now() if online else None,
    )  # fmt: skip


@pytest.fixture
def world(make_user: Callable[..., Any], make_project: Callable[..., Any], client_for: Callable[..., Any]) -> dict[str, Any]:
    users = {role: make_user() for role in ("maintainer", "developer", "guest", "limited_guest")}
    project = make_project("team", members={user: role for role, user in users.items()})
    index_artifact(project, "web", "v1")
    make_host("node-a", {"zone": "a"})
    make_host("node-b", {"zone": "b"})
    return {"project": project, **{role: client_for(user) for role, user in users.items()}}


def deploy(client: Any, **body: Any) -> Any:
    return client.post("/api/v1/projects/team/containers", {"repository": "web", "reference": "v1", **body}, format="json")


def test_a_developer_deploys_and_the_worker_runs_it(world: dict[str, Any], agent: FakeAgent) -> None:
    response = deploy(world["developer"], name="site", host="node-a", env={"MODE": "prod"}, ports=["8080:80"],
                      memory="64m", cpus=0.5, restart="always")
    assert response.status_code == 202, response.json()
    record = Container.objects.get(name="site")
    assert record.status == "running"
    assert record.host_name == "node-a"
    assert record.progress == {"bytes_done": 5, "bytes_total": 10, "layers": 1}
    assert set(record.timings) >= {"requested", "task_started", "pulled", "created", "started"}
    created = next(iter(agent.containers.values()))
    assert created["labels"]["berth.container"] == str(record.pk)
    shown = world["guest"].get(f"/api/v1/projects/team/containers/{record.pk}").json()
    assert (shown["status"], shown["image"]) == ("running", f"team/web@{record.digest}")


@pytest.mark.parametrize("role", ["guest", "limited_guest"])
def test_guests_cannot_deploy_and_nothing_changes(world: dict[str, Any], agent: FakeAgent, role: str) -> None:
    response = deploy(world[role], name="nope")
    assert response.status_code == 403
    assert Container.objects.count() == 0 and agent.calls == []


def test_a_limited_guest_cannot_even_list(world: dict[str, Any], agent: FakeAgent) -> None:
    assert world["limited_guest"].get("/api/v1/projects/team/containers").status_code == 403
    assert world["guest"].get("/api/v1/projects/team/containers").status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"reference": "v9"}, 404, "artifact_not_found"),
        ({"repository": "nothing"}, 404, "repository_not_found"),
        ({"volumes": ["/etc:/host-etc"]}, 403, "bind_mount_refused"),
        ({"ports": ["99999:80"]}, 400, "invalid"),
        ({"ports": ["8080:80/sctp"]}, 400, "invalid"),
        ({"restart": "sometimes"}, 400, "invalid"),
        ({"memory": "1k"}, 400, "invalid"),
        ({"host": "node-z"}, 404, "host_not_found"),
        ({"selector": {"zone": "mars"}}, 409, "no_host_available"),
        ({"colour": "red"}, 400, "invalid"),
    ],
)
def test_bad_deployments_are_refused_clearly(world: dict[str, Any], agent: FakeAgent, body: dict[str, Any],
                                             status: int, code: str) -> None:
    response = deploy(world["developer"], **body)
    assert (response.status_code, response.json()["errors"][0]["code"]) == (status, code)
    assert Container.objects.count() == 0


def test_container_names_are_per_project_on_a_host(world: dict[str, Any], agent: FakeAgent,
                                                   make_user: Callable[..., Any], make_project: Callable[..., Any],
                                                   client_for: Callable[..., Any]) -> None:
    other_developer = make_user()
    other = make_project("other", members={other_developer: "developer"})
    index_artifact(other, "web", "v1")
    assert deploy(world["developer"], name="site", host="node-a").status_code == 202
    theirs = client_for(other_developer).post("/api/v1/projects/other/containers", {
        "repository": "web", "reference": "v1", "name": "site", "host": "node-a"}, format="json")
    assert theirs.status_code == 202, theirs.json()
    # The agent keys the name by project, which it is told with the name.
    assert [(b["project"], b["name"]) for b in agent.create_bodies] == [("team", "site"), ("other", "site")]

    again = deploy(world["developer"], name="site", host="node-a")
    assert again.status_code == 409
    assert again.json()["errors"][0] == {
        "code": "container_exists", "message": "project team already has a container named 'site' on that host",
    }
    assert Container.objects.filter(name="site").count() == 2


def test_host_binds_only_where_an_administrator_allowed_them(world: dict[str, Any], agent: FakeAgent,
                                                            admin_user: Any, client_for: Callable[..., Any]) -> None:
    refused = deploy(world["developer"], name="binder", volumes=["/srv/data:/data:ro"])
    assert refused.status_code == 403
    assert refused.json()["errors"][0] == {
        "code": "bind_mount_refused",
        "message": "bind mounts of host paths are not allowed in project team: '/srv/data:/data:ro'; use a named "
                   "volume, or ask an administrator to allow host binds for the project",
    }
    assert client_for(admin_user).patch("/api/v1/projects/team", {"allow_host_binds": True},
                                        format="json").status_code == 200
    allowed = deploy(world["developer"], name="binder", volumes=["/srv/data:/data:ro", "cache:/cache"])
    assert allowed.status_code == 202, allowed.json()
    body = agent.create_bodies[-1]
    assert (body["volumes"], body["project"], body["allow_host_binds"]) == (
        ["/srv/data:/data:ro", "cache:/cache"], "team", True)
    shown = world["guest"].get(f"/api/v1/projects/team/containers/{allowed.json()['id']}").json()
    assert shown["volumes"] == [
        {"kind": "bind", "name": "/srv/data", "target": "/data", "readonly": True, "owner": None},
        {"kind": "volume", "name": "cache", "target": "/cache", "readonly": False, "owner": "team"},
    ]


def test_selector_and_capacity_choose_the_host(world: dict[str, Any], agent: FakeAgent) -> None:
    make_host("node-c", {"zone": "a"}, memory_gib=1)
    assert deploy(world["developer"], name="one", selector={"zone": "a"}, memory="2g").status_code == 202
    assert Container.objects.get(name="one").host_name == "node-a"  # node-c has too little memory
    full = deploy(world["developer"], name="two", selector={"zone": "a"}, memory="7g")
    assert full.status_code == 409
    assert "node-a has 6144 MiB of memory free" in full.json()["errors"][0]["message"]


def test_deployments_spread_over_hosts(world: dict[str, Any], agent: FakeAgent) -> None:
    for n in range(4):
        assert deploy(world["developer"], name=f"w{n}").status_code == 202
    assert sorted(Container.objects.values_list("host_name", flat=True)) == ["node-a", "node-a", "node-b", "node-b"]


def test_draining_and_unreachable_hosts_take_nothing(world: dict[str, Any], agent: FakeAgent) -> None:
    Host.objects.filter(name="node-a").update(draining=True)
    Host.objects.filter(name="node-b").update(last_heartbeat_at=None)
    response = deploy(world["developer"], name="x")
    assert response.status_code == 409
    assert response.json()["errors"][0]["message"] == (
        "no host can take this container: node-a is draining; node-b is unreachable")
    named = deploy(world["developer"], name="x", host="node-b")
    assert named.json()["errors"][0] == {"code": "host_unreachable", "message": "cannot deploy on host node-b: is unreachable"}


def test_a_port_published_on_the_host_is_taken(world: dict[str, Any], agent: FakeAgent) -> None:
    assert deploy(world["developer"], name="a", host="node-a", ports=["8080:80"]).status_code == 202
    second = deploy(world["developer"], name="b", host="node-a", ports=["127.0.0.1:8080:80"])
    assert second.status_code == 409
    assert second.json()["errors"][0] == {"code": "port_taken",
                                          "message": "cannot deploy on host node-a: already publishes port 8080/tcp"}
    # The same number over UDP is another port; the agent receives the protocol.
    assert deploy(world["developer"], name="c", host="node-a", ports=["8080:53/udp"]).status_code == 202
    udp = [{"host_ip": "0.0.0.0", "host_port": 8080, "container_port": 53, "protocol": "udp"}]
    assert Container.objects.get(name="c").spec["ports"] == udp
    assert [c["ports"] for c in agent.containers.values() if c["name"] == "c"] == [udp]
    third = deploy(world["developer"], name="d", host="node-a", ports=[{"host_port": 8080, "container_port": 5353,
                                                                        "protocol": "udp"}])
    assert third.json()["errors"][0]["message"] == "cannot deploy on host node-a: already publishes port 8080/udp"


def test_a_port_the_agent_finds_taken_fails_the_deployment(world: dict[str, Any], agent: FakeAgent) -> None:
    agent.create_error = (409, "port_taken", "port 0.0.0.0:8080 is already allocated on this host")
    deploy(world["developer"], name="a", ports=["8080:80"])
    record = Container.objects.get(name="a")
    assert (record.status, record.error_code, record.error) == (
        "failed", "port_taken", "port 0.0.0.0:8080 is already allocated on this host")


def test_an_image_the_registry_lacks_fails_the_deployment(world: dict[str, Any], agent: FakeAgent) -> None:
    agent.pull_error = ("image_not_found", "manifest unknown")
    deploy(world["developer"], name="a")
    record = Container.objects.get(name="a")
    assert (record.status, record.error_code) == ("failed", "image_not_found")
    assert record.error.startswith("image not found: team/web@sha256:")


def test_an_unreachable_host_is_retried_then_fails(world: dict[str, Any], agent: FakeAgent, monkeypatch: Any) -> None:
    monkeypatch.setattr("portal.fleet.tasks.converge_container.retry", _no_retry)
    agent.unreachable = True
    deploy(world["developer"], name="a", host="node-a")
    record = Container.objects.get(name="a")
    assert record.status == "pending"
    assert record.error_code == "host_unreachable"
    assert record.error.startswith("host node-a is unreachable: connection refused")


def _no_retry(*args: Any, **kwargs: Any) -> Exception:
    return RuntimeError("retry scheduled")


def test_stop_restart_remove(world: dict[str, Any], agent: FakeAgent) -> None:
    deploy(world["developer"], name="a", host="node-a")
    base = "/api/v1/projects/team/containers/a"
    assert world["guest"].post(f"{base}/stop").status_code == 403
    assert Container.objects.get().status == "running"
    assert world["developer"].post(f"{base}/stop").status_code == 202
    assert Container.objects.get().status == "exited"
    assert world["developer"].post(f"{base}/restart").status_code == 202
    record = Container.objects.get()
    assert (record.status, record.restarts_applied) == ("running", 1)
    assert world["guest"].delete(base).status_code == 403
    assert world["developer"].delete(base).status_code == 202
    assert Container.objects.count() == 0 and agent.containers == {}


def test_exec_logs_and_stats_are_checked_and_audited(world: dict[str, Any], agent: FakeAgent) -> None:
    from portal.audit.models import AuditEntry

    deploy(world["developer"], name="a", host="node-a")
    base = "/api/v1/projects/team/containers/a"
    assert world["guest"].post(f"{base}/exec", {"command": ["id"]}, format="json").status_code == 403
    result = world["developer"].post(f"{base}/exec", {"command": ["echo", "hi"]}, format="json")
    assert result.json() == {"exit_code": 0, "stdout": "echo hi", "stderr": ""}
    assert world["guest"].get(f"{base}/stats").json() == {"memory_usage": 1, "pids": 1}
    logs = world["guest"].get(f"{base}/logs?tail=5")
    assert b"".join(logs.streaming_content) == b'{"time": "t", "stream": "stdout", "data": "hi\\n"}\n'
    assert world["developer"].get(f"{base}/logs?tail=x").status_code == 400
    actions = set(AuditEntry.objects.filter(resource_type="container").values_list("action", flat=True))
    assert actions == {"create", "exec", "stats", "logs"}


def test_reconcile_repairs_records(world: dict[str, Any], agent: FakeAgent) -> None:
    deploy(world["developer"], name="dies", host="node-a")
    deploy(world["developer"], name="oom", host="node-a")
    deploy(world["developer"], name="vanishes", host="node-a")
    records = {c.name: str(c.pk) for c in Container.objects.all()}
    agent.finish(records["dies"], 3)
    agent.finish(records["oom"], 137, oom=True)
    vanished = next(k for k, v in agent.containers.items() if v["labels"]["berth.container"] == records["vanishes"])
    del agent.containers[vanished]
    agent.containers["orphan"] = {"id": "orphan", "name": "o", "labels": {"berth.container": "0" * 8 + "-0000-0000-0000-" + "0" * 12},
                                  "status": "running", "exit_code": 0}
    convergence.reconcile_host(Host.objects.get(name="node-a"))
    state = {c.name: (c.status, c.error_code) for c in Container.objects.all()}
    assert state == {"dies": ("failed", "exited"), "oom": ("failed", "out_of_memory"),
                     "vanishes": ("failed", "removed_on_host")}
    assert "orphan" not in agent.containers


def test_a_health_check_goes_to_the_agent_and_its_verdict_comes_back(world: dict[str, Any], agent: FakeAgent) -> None:
    check = {"cmd": "wget -q -O- localhost/health", "interval": 5, "retries": 2}
    assert deploy(world["developer"], name="checked", host="node-a", healthcheck=check).status_code == 202
    record = Container.objects.get(name="checked")
    sent = next(c for c in agent.containers.values() if c["name"] == "checked")
    assert (record.spec["healthcheck"], sent["healthcheck"], record.health) == (check, check, "starting")
    sent["health"] = "unhealthy"
    convergence.reconcile_host(Host.objects.get(name="node-a"))
    listed = world["guest"].get("/api/v1/projects/team/containers").json()["results"]
    assert [(c["name"], c["status"], c["health"]) for c in listed] == [("checked", "running", "unhealthy")]


@pytest.mark.parametrize(("check", "message"), [
    ({"cmd": ""}, "healthcheck cmd must be a non-empty shell command"),
    ({"cmd": "true", "interval": 0}, "healthcheck interval must be 0.1 to 86400 seconds"),
    ({"retries": 0}, "healthcheck retries must be 1 to 100"),
    ({"cmd": "true", "every": 3}, "unknown healthcheck field(s): every"),
])
def test_bad_health_checks_are_refused(world: dict[str, Any], agent: FakeAgent, check: dict[str, Any],
                                       message: str) -> None:
    response = deploy(world["developer"], name="bad", host="node-a", healthcheck=check)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid"
    assert response.json()["errors"][0]["message"] == message
    assert not Container.objects.filter(name="bad").exists()


def test_where_an_artifact_runs(world: dict[str, Any], agent: FakeAgent) -> None:
    deploy(world["developer"], name="a", host="node-a")
    deploy(world["developer"], name="b", host="node-b")
    by_tag = world["guest"].get("/api/v1/projects/team/repositories/web/artifacts/v1/containers").json()
    assert sorted((c["name"], c["host"]) for c in by_tag["results"]) == [("a", "node-a"), ("b", "node-b")]
    digest = Container.objects.first().digest  # type: ignore[union-attr]
    by_digest = world["guest"].get(f"/api/v1/projects/team/containers?repository=web&reference={digest}").json()
    assert by_digest["count"] == 2
    assert world["guest"].get("/api/v1/projects/team/containers?host=node-b").json()["count"] == 1


def test_deleting_a_running_artifact_is_refused_unless_forced(world: dict[str, Any], agent: FakeAgent) -> None:
    from portal.artifacts.models import Artifact
    from portal.artifacts.services import DELETE_GUARDS
    from portal.utilities.errors import Conflict

    assert services.refuse_deleting_a_running_artifact in DELETE_GUARDS
    deploy(world["developer"], name="a", host="node-a")
    artifact = Artifact.objects.get()
    with pytest.raises(Conflict, match=r"is running in 1 container\(s\) \(a on node-a\); stop them first"):
        services.refuse_deleting_a_running_artifact(artifact, False)
    services.refuse_deleting_a_running_artifact(artifact, True)


def test_the_host_lists_what_runs_there(world: dict[str, Any], agent: FakeAgent, client_for: Any, admin_user: Any) -> None:
    deploy(world["developer"], name="a", host="node-a", memory="1g", cpus=1)
    admin = client_for(admin_user)
    assert [c["name"] for c in admin.get("/api/v1/hosts/node-a/containers").json()["results"]] == ["a"]
    usage = admin.get("/api/v1/hosts/node-a").json()["usage"]
    assert (usage["containers"], usage["memory_reserved"], usage["cpus_reserved"]) == (1, 2**30, 1.0)
    refused = admin.delete("/api/v1/hosts/node-a")
    assert refused.json()["errors"][0]["code"] == "host_not_empty"
    assert admin.delete("/api/v1/hosts/node-a?force=true").status_code == 204
    assert Container.objects.get().error_code == "host_removed"


def test_the_artifact_api_refuses_deleting_a_running_artifact(world: dict[str, Any], agent: FakeAgent) -> None:
    from portal.artifacts.models import Artifact

    deploy(world["developer"], name="a", host="node-a")
    response = world["maintainer"].delete("/api/v1/projects/team/repositories/web/artifacts/v1")
    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert error["code"] == "artifact_in_use"
    assert error["message"].endswith("is running in 1 container(s) (a on node-a); stop them first or delete with force=true")
    assert Artifact.objects.count() == 1


def test_reconcile_requeues_work_no_worker_holds_on_reachable_hosts_only(world: dict[str, Any], agent: FakeAgent,
                                                                         monkeypatch: Any) -> None:
    from datetime import timedelta

    from portal.fleet import tasks

    monkeypatch.setattr("portal.fleet.services._enqueue_converge", lambda container: None)
    deploy(world["developer"], name="lost-a", host="node-a")
    deploy(world["developer"], name="lost-b", host="node-b")
    # As a killed worker leaves them: pending, no lease, untouched for a while.
    Container.objects.update(updated_at=timezone.now() - timedelta(seconds=30))
    Host.objects.filter(name="node-b").update(last_heartbeat_at=None)
    sent: list[str] = []
    monkeypatch.setattr(tasks.converge_container, "delay", lambda container_id: sent.append(container_id))
    report = tasks.reconcile_fleet()
    assert report["requeued"] == 1
    assert sent == [str(Container.objects.get(name="lost-a").pk)]
