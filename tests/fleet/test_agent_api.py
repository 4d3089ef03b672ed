"""The agent's HTTP API against a real agent process running real containers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from runtime_agent.agent.signing import Signer, new_private_key
from tests.fleet.agents import AgentProcess, SignedClient, free_port

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def image_id(agent_client: SignedClient, busybox_layout_dir: Path) -> str:
    events = agent_client.events(
        "POST", "/v1/images/pull", {"reference": f"oci:{busybox_layout_dir}:latest"}
    )
    assert events[-1]["status"] == "pulled", events
    return str(events[-1]["id"])


def test_health_needs_no_signature(standalone_agent: AgentProcess) -> None:
    assert httpx.get(f"{standalone_agent.url}/health").json() == {"status": "ok"}


def test_an_unsigned_request_is_refused(standalone_agent: AgentProcess) -> None:
    response = httpx.get(f"{standalone_agent.url}/v1/info")
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "unauthenticated",
            "message": "missing Authorization header: requests must be signed (Berth-Signature)",
        }
    }


def test_a_request_signed_by_another_key_is_refused(standalone_agent: AgentProcess) -> None:
    stranger = SignedClient(
        standalone_agent.url, Signer(new_private_key(), "portal"), "host-standalone"
    )
    response = stranger.request("GET", "/v1/info")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "signature does not verify for this request"


def test_a_request_signed_for_another_host_is_refused(
    standalone_agent: AgentProcess, portal_signer: Signer
) -> None:
    other = SignedClient(standalone_agent.url, portal_signer, "host-elsewhere")
    assert other.request("GET", "/v1/info").status_code == 401


def test_a_replayed_request_is_refused(
    standalone_agent: AgentProcess, portal_signer: Signer
) -> None:
    header = portal_signer.header("host-standalone", "GET", "/v1/info", b"")
    first = httpx.get(f"{standalone_agent.url}/v1/info", headers={"Authorization": header})
    again = httpx.get(f"{standalone_agent.url}/v1/info", headers={"Authorization": header})
    assert first.status_code == 200
    assert again.status_code == 401
    assert again.json()["error"]["message"] == "signature replayed: this nonce was already used"


def test_an_agent_that_has_not_joined_refuses_everything_but_health(make_agent: object) -> None:
    agent = make_agent("unjoined").start()  # type: ignore[operator]
    client = SignedClient(agent.url, Signer(new_private_key(), "portal"), "any")
    response = client.request("GET", "/v1/info")
    assert (response.status_code, response.json()["error"]["code"]) == (503, "not_joined")
    agent.stop()


def test_host_facts(agent_client: SignedClient) -> None:
    facts = agent_client.request("GET", "/v1/info").json()
    assert facts["cpus"] >= 1 and facts["memory_bytes"] > 0 and facts["disk_bytes"] > 0
    assert facts["cgroup_version"] in (1, 2)
    assert facts["kernel"]
    assert "containers_running" in facts


def test_pull_reports_progress_then_the_image(agent_client: SignedClient, image_id: str) -> None:
    images = agent_client.request("GET", "/v1/images").json()
    assert image_id in [image["id"] for image in images]


def test_pull_of_a_missing_image_ends_with_a_clear_error(
    agent_client: SignedClient, tmp_path: Path
) -> None:
    events = agent_client.events(
        "POST", "/v1/images/pull", {"reference": f"oci:{tmp_path}/nothing:latest"}
    )
    assert events[-1]["status"] == "error"
    assert events[-1]["code"] in ("invalid_layout", "image_not_found")


def test_run_serve_exec_stats_logs_stop_remove(agent_client: SignedClient, image_id: str) -> None:
    port = free_port()
    created = agent_client.request(
        "POST", "/v1/containers",
        {"image": image_id, "name": "web", "ports": [f"127.0.0.1:{port}:80"], "memory": "64m",
         "command": ["sh", "-c", "echo started; exec httpd -f -p 80 -h /etc"],
         "labels": {"berth.container": "c-1"}},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "running"
    assert created.json()["labels"]["berth.container"] == "c-1"
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/passwd", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert page.text.startswith("root:x:0:0:")
        result = agent_client.request(
            "POST",
            "/v1/containers/web/exec",
            {"command": ["sh", "-c", "echo out; echo err >&2; exit 3"]},
        ).json()
        assert result == {"exit_code": 3, "stdout": "out\n", "stderr": "err\n"}
        stats = agent_client.request("GET", "/v1/containers/web/stats").json()
        assert stats["memory_limit"] == 64 * 1024 * 1024 and stats["pids"] >= 1
        logs = agent_client.events("GET", "/v1/containers/web/logs?tail=10")
        assert [(e["stream"], e["data"]) for e in logs] == [("stdout", "started\n")]
        listed = agent_client.request("GET", "/v1/containers").json()
        assert [c["name"] for c in listed] == ["web"]
        assert [c["name"] for c in agent_client.request("GET", "/v1/containers?label=berth.container=c-1").json()] == ["web"]
        assert agent_client.request("GET", "/v1/containers?label=berth.container=c-2").json() == []
        stopped = agent_client.request("POST", "/v1/containers/web/stop?timeout=2").json()
        assert stopped["status"] == "exited"
        assert agent_client.request("GET", "/v1/containers").json() == []
        assert [
            c["name"] for c in agent_client.request("GET", "/v1/containers?all=true").json()
        ] == ["web"]
    finally:
        removed = agent_client.request("DELETE", "/v1/containers/web?force=true")
    assert removed.status_code == 204
    assert agent_client.request("GET", "/v1/containers/web").status_code == 404


def test_followed_logs_stream_until_the_container_exits(
    agent_client: SignedClient, image_id: str
) -> None:
    agent_client.request(
        "POST", "/v1/containers",
        {"image": image_id, "name": "ticker", "command": ["sh", "-c", "sleep 1; for i in 1 2 3; do echo $i; sleep 0.3; done"]},
    )  # fmt: skip
    try:
        started = time.monotonic()
        with agent_client.stream("GET", "/v1/containers/ticker/logs?follow=true") as response:
            lines = [
                (json.loads(line)["data"], time.monotonic() - started)
                for line in response.iter_lines()
                if line
            ]
        assert [data for data, _ in lines] == ["1\n", "2\n", "3\n"]
        # Streamed as they came, not all at the end.
        assert lines[-1][1] - lines[0][1] > 0.4
    finally:
        agent_client.request("DELETE", "/v1/containers/ticker?force=true")


def test_a_published_port_already_in_use_is_refused(
    agent_client: SignedClient, image_id: str
) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        response = agent_client.request(
            "POST",
            "/v1/containers",
            {"image": image_id, "name": "clash", "ports": [f"127.0.0.1:{port}:80"]},
        )
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "port_taken", "message": f"port 127.0.0.1:{port} is already allocated on this host",
    }  # fmt: skip
    assert agent_client.request("GET", "/v1/containers/clash").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x"}, "field image is required"),
        ({"image": "x", "colour": "red"}, "unknown field(s): colour"),
        ({"image": "x", "env": "A=1"}, "field env must be list"),
        ({"image": "x", "memory": [1]}, "field memory must be int or str"),
        ({"image": "x", "healthcheck": {"cmd": "true", "every": 1}}, "unknown field(s): every"),
        ({"image": "x", "healthcheck": {"cmd": ["true"]}}, "field cmd must be str"),
    ],
)
def test_bad_container_requests_get_clear_errors(
    agent_client: SignedClient, body: dict[str, object], message: str
) -> None:
    response = agent_client.request("POST", "/v1/containers", body)
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "invalid", "message": message}


def test_a_health_check_runs_and_its_state_is_reported(
    agent_client: SignedClient, image_id: str
) -> None:
    created = agent_client.request(
        "POST", "/v1/containers",
        {"image": image_id, "name": "checked", "command": ["sleep", "30"], "network": "none",
         "healthcheck": {"cmd": "test -e /proc/1", "interval": 0.1, "retries": 1}},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    try:
        assert created.json()["health"] == "starting"
        deadline = time.monotonic() + 15
        while agent_client.request("GET", "/v1/containers/checked").json()["health"] != "healthy":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        agent_client.request("DELETE", "/v1/containers/checked?force=true")


def test_malformed_json_is_a_400(standalone_agent: AgentProcess, portal_signer: Signer) -> None:
    body = b"{not json"
    header = portal_signer.header("host-standalone", "POST", "/v1/containers", body)
    response = httpx.post(
        f"{standalone_agent.url}/v1/containers", content=body, headers={"Authorization": header}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_an_invalid_spec_is_a_400_in_the_runtimes_words(
    agent_client: SignedClient, image_id: str
) -> None:
    response = agent_client.request(
        "POST", "/v1/containers", {"image": image_id, "name": "bad name!"}
    )
    assert response.status_code == 400
    assert (
        response.json()["error"]["message"]
        == "Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
    )


def test_unknown_container_and_method(agent_client: SignedClient) -> None:
    missing = agent_client.request("POST", "/v1/containers/nope/stop")
    assert (missing.status_code, missing.json()["error"]["message"]) == (
        404,
        "No such container: nope",
    )
    assert agent_client.request("PUT", "/v1/containers").status_code == 405


def test_volumes_outlive_containers(agent_client: SignedClient, image_id: str) -> None:
    created = agent_client.request("POST", "/v1/volumes", {"name": "fleet-data"})
    assert created.status_code == 201
    agent_client.request(
        "POST", "/v1/containers",
        {"image": image_id, "name": "writer", "volumes": ["fleet-data:/data"], "network": "none",
         "command": ["sh", "-c", "echo kept > /data/file"]},
    )  # fmt: skip
    busy = agent_client.request("DELETE", "/v1/volumes/fleet-data")
    assert busy.status_code == 409
    agent_client.request("DELETE", "/v1/containers/writer?force=true")
    assert [v["Name"] for v in agent_client.request("GET", "/v1/volumes").json()] == ["fleet-data"]
    mountpoint = agent_client.request("GET", "/v1/volumes/fleet-data").json()["Mountpoint"]
    assert Path(mountpoint, "file").read_text() == "kept\n"
    assert agent_client.request("DELETE", "/v1/volumes/fleet-data").status_code == 204


def test_a_projects_names_and_volumes_are_its_own_on_the_host(agent_client: SignedClient, image_id: str,
                                                              tmp_path: Path) -> None:
    def create(project: str, **extra: object) -> httpx.Response:
        return agent_client.request("POST", "/v1/containers", {
            "image": image_id, "name": "shared", "project": project, "network": "none", "start": False,
            "volumes": ["data:/data", "/scratch"], "command": ["true"], **extra,
        })  # fmt: skip

    alpha, beta = create("alpha"), create("beta")
    try:
        assert (alpha.status_code, beta.status_code) == (201, 201), (alpha.text, beta.text)
        assert (alpha.json()["name"], beta.json()["name"]) == ("alpha__shared", "beta__shared")
        mounts = agent_client.request("GET", f"/v1/containers/{alpha.json()['id']}").json()["inspect"]["Mounts"]
        assert mounts[0]["Name"] == "alpha/data"
        assert mounts[0]["Source"].endswith("/volumes/_projects/alpha/data/_data")
        owned = agent_client.request("GET", "/v1/volumes?project=alpha").json()
        assert sorted(v["Project"] for v in owned) == ["alpha", "alpha"]
        assert "alpha/data" in [v["Name"] for v in owned]
        data = agent_client.request("GET", "/v1/volumes/alpha/data").json()
        assert data["Labels"] == {"berth.project": "alpha"}
        assert data["Mountpoint"] != agent_client.request("GET", "/v1/volumes/beta/data").json()["Mountpoint"]

        bind = create("alpha", name="binder", volumes=[f"{tmp_path}:/host"])
        assert bind.status_code == 403
        assert bind.json()["error"] == {"code": "bind_mount_refused",
                                        "message": f"project alpha may not bind host paths: {tmp_path}"}
        other = create("alpha", name="reacher", volumes=["beta/data:/data"])
        assert other.json()["error"] == {"code": "invalid", "message": "invalid volume name 'beta/data'"}
        bad = create("Not__A_Project")
        assert bad.json()["error"] == {"code": "invalid",
                                       "message": "field project must be a project name, not 'Not__A_Project'"}
        allowed = create("alpha", name="binder", volumes=[f"{tmp_path}:/host"], allow_host_binds=True)
        assert allowed.status_code == 201, allowed.text
        agent_client.request("DELETE", f"/v1/containers/{allowed.json()['id']}?force=true")
    finally:
        for created in (alpha, beta):
            if created.status_code == 201:
                agent_client.request("DELETE", f"/v1/containers/{created.json()['id']}?force=true")
        for ref in ("alpha/data", "beta/data"):
            agent_client.request("DELETE", f"/v1/volumes/{ref}")
    # The anonymous volumes went with their containers.
    assert agent_client.request("GET", "/v1/volumes?project=alpha").json() == []
