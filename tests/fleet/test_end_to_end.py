"""The fleet end to end: real agents joined to a real portal, a real worker on Redis, images pushed to a
registry and pulled by the agents with a per-deployment token, containers served on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.portal import PASSWORD
from tests.fleet.agents import AgentProcess, free_port
from tests.fleet.stack import FLEET_ENV, Stack, Worker, wait_for

pytestmark = [pytest.mark.root, pytest.mark.registry]


@pytest.fixture(scope="module", autouse=True)
def shared_database(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """One database for the module, committed as it goes so the worker and agents see it; emptied after.

    pytest-django creates the test database only when some selected test is marked for it; these
    tests are not (a marked test runs in a transaction or is flushed after), so it may be made here.
    """
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_databases

    with django_db_blocker.unblock():
        if not _is_test_database(connection.settings_dict):
            # Left in place afterwards: the session's registry server still holds connections to it,
            # and the next run's setup replaces it.
            setup_databases(verbosity=0, interactive=False, aliases={"default"})
        assert _is_test_database(connection.settings_dict)
        try:
            yield
        finally:
            call_command("flush", interactive=False, verbosity=0)

HTTPD = ["sh", "-c", "echo serving; exec httpd -f -p 80 -h /etc"]


def _is_test_database(database: dict[str, Any]) -> bool:
    test_name = (database.get("TEST") or {}).get("NAME")
    return bool(database["NAME"] == test_name if test_name else str(database["NAME"]).startswith("test_"))


@pytest.fixture(scope="module")
def stack(
    shared_database: None, redis_server: Any, registry_stack: Any, make_agent: Any, django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:  # fmt: skip
    from django.test import override_settings

    from tests.fixtures.services import child_environment

    overrides = {
        "FLEET_HEARTBEAT_SECONDS": 1, "FLEET_UNREACHABLE_AFTER_SECONDS": 4, "FLEET_LEASE_SECONDS": 4,
        "FLEET_REGISTRY": registry_stack.registry_host, "REDIS_URL": redis_server.url,
        "CELERY_BROKER_URL": redis_server.url,
        # Scrypt costs ~0.3 s per Basic-authenticated request; these tests make hundreds.
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    }  # fmt: skip
    directory = tmp_path_factory.mktemp("fleet-stack")
    # The server is shared with the registry and browser tests: start from empty caches, or a tag or
    # project they cached (from a database since flushed) answers for this module's own.
    from portal.artifacts.services import manifest_cache

    registry_stack.server.app.reset()
    manifest_cache.clear()
    with django_db_blocker.unblock(), override_settings(**overrides):
        env = child_environment(
            directory, BERTH_REDIS_URL=redis_server.url, **FLEET_ENV, **registry_stack.worker_env,
        )  # fmt: skip
        worker = Worker(env, directory).start()
        stack = Stack(registry_stack.url, registry_stack.registry_host, worker)
        _celery_broker(redis_server.url)
        try:
            yield stack
        finally:
            worker.stop()
            for agent in stack.agents.values():
                agent.stop()
            _celery_broker(None)


def _celery_broker(url: str | None) -> None:
    """Points this process's Celery producer at `url` (None: back to the settings), dropping pools an
    earlier test may have opened to another broker."""
    from portal.celery import app

    app.conf.broker_url = url
    app.amqp._producer_pool = None
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None


@pytest.fixture(scope="module")
def people(stack: Stack, django_db_blocker: Any) -> dict[str, tuple[str, str]]:
    from portal.accounts.models import User
    from portal.projects.models import Member, Project

    with django_db_blocker.unblock():
        project = Project.objects.create(name="team")
        made = {}
        for name, role in (("admin", None), ("dev", "developer"), ("guest", "guest")):
            user = User(username=f"fleet-{name}", is_admin=role is None)
            user.set_password(PASSWORD)
            user.save()
            if role:
                Member.objects.create(project=project, user=user, role=role)
            made[name] = (user.username, PASSWORD)
    return made


JOIN_TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def hosts(stack: Stack, people: dict[str, tuple[str, str]], make_agent: Any) -> dict[str, AgentProcess]:
    """Two agents, each joined with its own single-use token by `serve --join --token-file`."""
    with stack.api(people["admin"]) as admin:
        for name, zone in (("node-a", "a"), ("node-b", "b")):
            token = admin.post("/hosts/join-tokens", json={"labels": {"zone": zone}}).json()["token"]
            JOIN_TOKENS[name] = token
            agent = make_agent(name)
            token_file = agent.state.parent / f"{name}.join-token"
            token_file.write_text(token)
            agent.start("--join", stack.url, "--token-file", str(token_file), "--name", name,
                        "--advertise", agent.url)
            stack.agents[name] = agent

        def both_online() -> bool:
            listed = admin.get("/hosts").json()["results"]
            return [(h["name"], h["status"]) for h in listed] == [("node-a", "online"), ("node-b", "online")]

        wait_for(both_online, 20, "both hosts to join and report")
    return stack.agents


@pytest.fixture(scope="module")
def image(registry_stack: Any, people: dict[str, tuple[str, str]], busybox_layout_dir: Path) -> str:
    """busybox pushed as team/web:v1 by the developer."""
    return str(registry_stack.push(busybox_layout_dir, "team/web", "v1", people["dev"]))


def container(client: httpx.Client, name: str, project: str = "team") -> dict[str, Any]:
    return dict(client.get(f"/projects/{project}/containers/{name}").json())


def wait_status(client: httpx.Client, name: str, *statuses: str, timeout: float = 30,
                project: str = "team") -> dict[str, Any]:
    return dict(wait_for(lambda: (c := container(client, name, project)).get("status") in statuses and c, timeout,
                         f"container {project}/{name} to be {' or '.join(statuses)}"))


def published(port: int) -> str:
    def fetch() -> str | None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/passwd", timeout=1).text
        except httpx.HTTPError:
            return None

    return str(wait_for(fetch, 10, f"port {port} to serve"))


def test_deploy_serve_logs_exec_stats_stop_remove(stack: Stack, hosts: dict[str, AgentProcess], image: str,
                                                    people: dict[str, tuple[str, str]]) -> None:
    port = free_port()
    with stack.api(people["dev"]) as dev:
        response = dev.post("/projects/team/containers", json={
            "repository": "web", "reference": "v1", "name": "site", "selector": {"zone": "a"},
            "command": HTTPD, "ports": [f"127.0.0.1:{port}:80"], "memory": "64m", "env": {"GREETING": "hello"},
        })
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
        running = wait_status(dev, "site", "running", "failed")
        assert running["status"] == "running", running
        assert running["host"] == "node-a"
        assert running["progress"]["bytes_total"] > 0
        assert published(port).startswith("root:x:0:0:")

        logs = dev.get("/projects/team/containers/site/logs", params={"tail": 10})
        lines = [json.loads(line) for line in logs.text.splitlines()]
        assert lines[0]["data"] == "serving\n"
        with dev.stream("GET", "/projects/team/containers/site/logs", params={"follow": "true"}) as follow:
            stream = follow.iter_lines()
            assert json.loads(next(stream))["data"] == "serving\n"
            # A line written while the client follows arrives while the container keeps running.
            dev.post("/projects/team/containers/site/exec", json={"command": ["sh", "-c", "echo marker > /proc/1/fd/1"]})
            assert wait_for(lambda: json.loads(next(stream))["data"] == "marker\n", 10, "the marker line")

        result = dev.post("/projects/team/containers/site/exec", json={"command": ["sh", "-c", "echo $GREETING"]})
        assert result.json() == {"exit_code": 0, "stdout": "hello\n", "stderr": ""}
        stats = dev.get("/projects/team/containers/site/stats").json()
        assert stats["memory_limit"] == 64 * 2**20

        where = dev.get("/projects/team/repositories/web/artifacts/v1/containers").json()["results"]
        assert [(c["name"], c["host"]) for c in where] == [("site", "node-a")]

        assert dev.post("/projects/team/containers/site/stop").status_code == 202
        assert wait_status(dev, "site", "exited")["status"] == "exited"
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/passwd", timeout=1)
        assert dev.delete("/projects/team/containers/site").status_code == 202
        wait_for(lambda: dev.get("/projects/team/containers/site").status_code == 404, 15, "the record to go")
    assert not any(c.spec.name == "team__site" for c in _runtime(hosts["node-a"]).list(all=True))


def test_the_join_token_is_not_on_the_agents_command_line(hosts: dict[str, AgentProcess]) -> None:
    for name, agent in hosts.items():
        assert agent.process is not None
        command_line = Path(f"/proc/{agent.process.pid}/cmdline").read_bytes()
        environment = Path(f"/proc/{agent.process.pid}/environ").read_bytes()
        assert b"--token-file" in command_line
        assert JOIN_TOKENS[name].encode() not in command_line
        assert JOIN_TOKENS[name].encode() not in environment


def test_a_guest_cannot_deploy(stack: Stack, hosts: dict[str, AgentProcess], image: str,
                               people: dict[str, tuple[str, str]]) -> None:
    from portal.fleet.models import Container

    with stack.api(people["guest"]) as guest:
        response = guest.post("/projects/team/containers", json={"repository": "web", "reference": "v1", "name": "g"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["message"] == "fleet-guest may not create container in project team"
    assert not Container.objects.filter(name="g").exists()


def test_an_image_missing_from_the_registry_fails_clearly(stack: Stack, hosts: dict[str, AgentProcess], image: str,
                                                          people: dict[str, tuple[str, str]], registry_stack: Any) -> None:
    from portal.artifacts.models import Artifact

    with stack.api(people["dev"]) as dev:
        # Indexed but gone from storage: what a manual delete in distribution leaves behind.
        digest = registry_stack.forge_artifact("team/ghost", "v1")
        dev.post("/projects/team/containers", json={"repository": "ghost", "reference": "v1", "name": "ghost"})
        failed = wait_status(dev, "ghost", "failed")
    assert failed["error_code"] == "image_not_found"
    assert failed["error"].startswith(f"image not found: team/ghost@{digest}")
    Artifact.objects.filter(digest=digest).delete()


def test_the_pull_token_an_agent_receives_only_pulls_that_repository(stack: Stack, image: str,
                                                                     registry_stack: Any) -> None:
    from portal.fleet.registry_tokens import issue_pull_token

    token = issue_pull_token("team/web")
    headers = {"Authorization": f"Bearer {token}"}
    v2 = f"{stack.url}/v2"
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"}
    assert httpx.get(f"{v2}/team/web/manifests/v1", headers={**headers, **accept}).status_code == 200
    assert httpx.get(f"{v2}/team/other/manifests/v1", headers={**headers, **accept}).status_code in (401, 403)
    push = httpx.post(f"{v2}/team/web/blobs/uploads/", headers=headers)
    assert push.status_code in (401, 403)
    delete = httpx.delete(f"{v2}/team/web/manifests/v1", headers=headers)
    assert delete.status_code in (401, 403, 405)


def test_a_host_made_unreachable_is_marked_so_and_its_agent_reconciled_after_restart(
    stack: Stack, hosts: dict[str, AgentProcess], image: str, people: dict[str, tuple[str, str]],
) -> None:  # fmt: skip
    agent = hosts["node-b"]
    with stack.api(people["dev"]) as dev, stack.api(people["admin"]) as admin:
        dev.post("/projects/team/containers", json={
            "repository": "web", "reference": "v1", "name": "sleeper", "host": "node-b", "command": ["sleep", "600"],
        })
        assert wait_status(dev, "sleeper", "running")["host"] == "node-b"
        agent.kill()
        wait_for(lambda: admin.get("/hosts/node-b").json()["status"] == "unreachable", 15, "node-b to be unreachable")
        # While its agent is away the container dies: the shim records it; the portal cannot know yet.
        pid = next(c for c in _runtime(agent).list(all=True) if c.spec.name == "team__sleeper").state.pid
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        assert container(dev, "sleeper")["status"] == "running"
        agent.start()
        wait_for(lambda: admin.get("/hosts/node-b").json()["status"] == "online", 15, "node-b to come back")
        reconciled = wait_status(dev, "sleeper", "failed", "exited", timeout=15)
        assert reconciled["exit_code"] == 137
        assert dev.delete("/projects/team/containers/sleeper").status_code == 202


def test_a_worker_killed_mid_deploy_leaves_the_deployment_to_complete(
    stack: Stack, hosts: dict[str, AgentProcess], image: str, people: dict[str, tuple[str, str]],
) -> None:  # fmt: skip
    from portal.fleet.models import Container

    agent = hosts["node-a"]
    assert agent.process is not None
    with stack.api(people["dev"]) as dev:
        # A frozen agent holds the worker inside its call, so the kill lands mid-task.
        agent.process.send_signal(signal.SIGSTOP)
        try:
            dev.post("/projects/team/containers", json={
                "repository": "web", "reference": "v1", "name": "survivor", "host": "node-a", "command": ["sleep", "600"],
            })
            # The worker holds the container's lease: it is inside the task, waiting on the agent.
            wait_for(lambda: Container.objects.filter(name="survivor", lease_until__isnull=False).exists(), 15,
                     "a worker to take the deployment")
            stack.worker.kill()
        finally:
            agent.process.send_signal(signal.SIGCONT)
        stack.worker.start()
        # The lease of the killed worker expires; the scheduled reconcile hands the work to the new one.
        done = wait_status(dev, "survivor", "running", "failed", timeout=40)
        assert done["status"] == "running", done
        assert sum(c.spec.name == "team__survivor" for c in _runtime(agent).list(all=True)) == 1
        assert dev.delete("/projects/team/containers/survivor").status_code == 202
        wait_for(lambda: dev.get("/projects/team/containers/survivor").status_code == 404, 15, "the record to go")


@pytest.fixture(scope="module")
def rival(stack: Stack, people: dict[str, tuple[str, str]], registry_stack: Any, busybox_layout_dir: Path,
          image: str) -> tuple[str, str]:
    """A second project, "rival", with a developer of its own and busybox pushed as rival/web:v1."""
    from portal.accounts.models import User
    from portal.projects.models import Member, Project

    user = User(username="fleet-rival")
    user.set_password(PASSWORD)
    user.save()
    Member.objects.create(project=Project.objects.create(name="rival"), user=user, role="developer")
    registry_stack.push(busybox_layout_dir, "rival/web", "v1", (user.username, PASSWORD))
    return (user.username, PASSWORD)


def _exec(client: httpx.Client, project: str, name: str, script: str) -> dict[str, Any]:
    response = client.post(f"/projects/{project}/containers/{name}/exec", json={"command": ["sh", "-c", script]})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _remove(client: httpx.Client, project: str, name: str) -> None:
    assert client.delete(f"/projects/{project}/containers/{name}").status_code == 202
    wait_for(lambda: client.get(f"/projects/{project}/containers/{name}").status_code == 404, 15,
             f"{project}/{name} to go")


def test_two_projects_same_volume_and_container_names_never_meet(
    stack: Stack, hosts: dict[str, AgentProcess], image: str, people: dict[str, tuple[str, str]],
    rival: tuple[str, str],
) -> None:  # fmt: skip
    sleeper = {"repository": "web", "reference": "v1", "name": "store", "host": "node-a",
               "volumes": ["data:/data"], "command": ["sleep", "600"]}  # fmt: skip
    with stack.api(people["dev"]) as dev, stack.api(rival) as other:
        assert dev.post("/projects/team/containers", json=sleeper).status_code == 202
        assert wait_status(dev, "store", "running", "failed")["status"] == "running"
        assert _exec(dev, "team", "store", "echo team-only > /data/secret && cat /data/secret")["stdout"] == "team-only\n"

        # Same container name, same volume name, same host: before, the name was refused naming team's
        # container, and the volume was team's own directory.
        response = other.post("/projects/rival/containers", json=sleeper)
        assert response.status_code == 202, response.text
        assert wait_status(other, "store", "running", "failed", project="rival")["status"] == "running"
        theirs = _exec(other, "rival", "store", "ls -A /data; cat /data/secret")
        assert theirs == {"exit_code": 1, "stdout": "",
                          "stderr": "cat: can't open '/data/secret': No such file or directory\n"}
        _exec(other, "rival", "store", "echo rival-was-here > /data/secret")
        assert _exec(dev, "team", "store", "cat /data/secret")["stdout"] == "team-only\n"

        volumes = {v.ref: v for v in _runtime(hosts["node-a"]).volumes.list()}
        assert {"team/data", "rival/data"} <= set(volumes)
        assert (volumes["team/data"].project, volumes["team/data"].labels) == ("team", {"berth.project": "team"})
        assert volumes["rival/data"].inspect()["Project"] == "rival"
        names = sorted(c.spec.name for c in _runtime(hosts["node-a"]).list(all=True) if c.spec.name.endswith("__store"))
        assert names == ["rival__store", "team__store"]
        _remove(dev, "team", "store")
        _remove(other, "rival", "store")
    runtime = _runtime(hosts["node-a"])
    for ref in ("team/data", "rival/data"):
        runtime.volumes.remove(ref)


def test_host_binds_are_refused_until_an_administrator_allows_them(
    stack: Stack, hosts: dict[str, AgentProcess], image: str, people: dict[str, tuple[str, str]],
    rival: tuple[str, str], tmp_path: Path,
) -> None:  # fmt: skip
    from portal.audit.models import AuditEntry

    (tmp_path / "motd").write_text("from the host\n")
    binder = {"repository": "web", "reference": "v1", "name": "binder", "host": "node-a",
              "volumes": [f"{tmp_path}:/host:ro"], "command": ["sleep", "600"]}  # fmt: skip
    with stack.api(rival) as other, stack.api(people["admin"]) as admin:
        refused = other.post("/projects/rival/containers", json=binder)
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["code"] == "bind_mount_refused"
        assert other.patch("/projects/rival", json={"allow_host_binds": True}).status_code == 403

        assert admin.patch("/projects/rival", json={"allow_host_binds": True}).json()["allow_host_binds"] is True
        assert AuditEntry.objects.filter(resource_type="project", resource="rival", actor="fleet-admin",
                                         detail={"allow_host_binds": True}).exists()
        assert other.post("/projects/rival/containers", json=binder).status_code == 202
        assert wait_status(other, "binder", "running", "failed", project="rival")["status"] == "running"
        assert _exec(other, "rival", "binder", "cat /host/motd")["stdout"] == "from the host\n"
        _remove(other, "rival", "binder")
        admin.patch("/projects/rival", json={"allow_host_binds": False})


def _runtime(agent: AgentProcess) -> Any:
    from runtime_agent.images import ImageStore
    from runtime_agent.runtime.api import Runtime

    return Runtime(agent.state, images=ImageStore(agent.state), bridge=agent.bridge, subnet=agent.subnet)


def test_join_registers_a_host_and_keeps_its_credential_private(
    stack: Stack, people: dict[str, tuple[str, str]], tmp_path: Path,
) -> None:  # fmt: skip
    import subprocess
    import sys

    with stack.api(people["admin"]) as admin:
        token = admin.post("/hosts/join-tokens", json={}).json()["token"]
        command = [sys.executable, "-m", "runtime_agent", "join", stack.url, "--state", str(tmp_path),
                   "--name", "node-c", "--labels", "zone=c,disk=ssd", "--advertise", "http://127.0.0.1:9"]
        without_token = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                       env={k: v for k, v in os.environ.items() if k != "BERTH_JOIN_TOKEN"})
        assert without_token.returncode == 1
        assert without_token.stderr.strip() == (
            "berth-agent: give the join token with --token-file PATH or $BERTH_JOIN_TOKEN")
        joined = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "BERTH_JOIN_TOKEN": token})
        assert joined.returncode == 0, joined.stderr
        assert joined.stdout.startswith(f"joined {stack.url} as host node-c (")
        credential = tmp_path / "agent" / "credential.json"
        assert credential.stat().st_mode & 0o777 == 0o600
        host = admin.get("/hosts/node-c").json()
        assert (host["labels"], host["address"]) == ({"zone": "c", "disk": "ssd"}, "http://127.0.0.1:9")
        spent = tmp_path / "spent-token"
        spent.write_text("berth_join_spent\n")
        again = subprocess.run([*command, "--token-file", str(spent), "--force"], capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 1
        assert again.stderr.strip() == ("berth-agent: the portal refused to join this host: "
                                        "the join token is invalid, expired or used up (unknown)")
        assert admin.delete("/hosts/node-c").status_code == 204
