"""docker-compose.yml and the Dockerfile: validated by docker-compose itself, then checked service by service."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = shutil.which("docker-compose")
SETTINGS = {
    "BERTH_SECRET_KEY": "k" * 50,
    "BERTH_ENCRYPTION_KEYS": "a" * 43 + "=",
    "POSTGRES_PASSWORD": "pg-secret",
    "BERTH_REGISTRY_PASSWORD": "registry-secret",
    "BERTH_REGISTRY_HTTP_SECRET": "http-secret",
    "BERTH_ALLOWED_HOSTS": "berth.example.com",
}

pytestmark = pytest.mark.skipif(
    COMPOSE is None, reason="docker-compose (Debian package) is not installed"
)


def compose(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A clean environment: the developer's own BERTH_* variables must not leak into the check.
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        **env,
    }
    return subprocess.run(
        [COMPOSE or "docker-compose", "-f", "docker-compose.yml", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """target → (source, mode) from docker-compose's normalised `source:target:mode` strings."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, mode = volume.split(":")
        found[target] = (source, mode)
    return found


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = compose("config", **SETTINGS)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_file_validates_with_docker_compose():
    result = compose("config", "-q", **SETTINGS)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_a_missing_secret_stops_the_configuration():
    # docker-compose reports one missing variable at a time: leave out the one nothing else depends on.
    result = compose(
        "config",
        "-q",
        **{name: value for name, value in SETTINGS.items() if name != "BERTH_REGISTRY_HTTP_SECRET"},
    )
    assert result.returncode != 0
    assert "set BERTH_REGISTRY_HTTP_SECRET to a long random string" in result.stderr


def test_the_services_are_the_production_set(config):
    assert set(config["services"]) == {
        "postgres",
        "redis",
        "registry",
        "registry-volume",
        "init",
        "portal",
        "worker",
        "beat",
        "agent",
    }
    for name in ("postgres", "redis", "registry", "portal", "worker", "beat", "agent"):
        assert config["services"][name]["healthcheck"]["test"], name


def test_only_the_portal_is_reachable_from_outside(config):
    assert config["networks"]["internal"]["internal"] is True
    for name, service in config["services"].items():
        if name == "portal":
            assert set(service["networks"]) == {"internal", "public"}
            assert [(p["target"], str(p["published"])) for p in service["ports"]] == [
                (8000, "8000")
            ]
        else:
            assert set(service["networks"]) == {"internal"}, name
            assert "ports" not in service, name


def test_berth_services_share_one_configuration(config):
    for name in ("init", "portal", "worker", "beat", "agent"):
        env = config["services"][name]["environment"]
        assert env["BERTH_PRODUCTION"] == "true"
        assert env["BERTH_SECRET_KEY"] == SETTINGS["BERTH_SECRET_KEY"]
        assert env["BERTH_ENCRYPTION_KEYS"] == SETTINGS["BERTH_ENCRYPTION_KEYS"]
        assert env["BERTH_DATABASE_URL"] == "postgres://berth:pg-secret@postgres:5432/berth"
        assert env["BERTH_REDIS_URL"] == "redis://redis:6379/0"
        assert env["BERTH_REGISTRY_URL"] == "http://registry:5000"
        assert env["BERTH_REGISTRY_MANAGED"] == "false"
        assert env["BERTH_REGISTRY_PASSWORD"] == "registry-secret"
        assert env["BERTH_ALLOWED_HOSTS"] == "berth.example.com,127.0.0.1,portal"
        assert env["BERTH_FLEET_REGISTRY"] == "portal:8000"


def test_the_agent_joins_the_portal_with_the_token_init_leaves_it(config):
    agent, init = config["services"]["agent"], config["services"]["init"]
    assert agent["privileged"] is True
    assert agent["command"][-4:] == ["--join", "http://portal:8000", "--token-file", "/var/lib/berth-agent/join-token"]
    assert "fleet_join_token --local-state /var/lib/berth-agent --output /var/lib/berth-agent/join-token" in " ".join(
        init["command"]
    )
    def sources(service: dict[str, Any]) -> set[str]:
        # docker-compose prints short volume syntax ("name:/path:rw"); newer versions print mappings.
        return {v.split(":")[0] if isinstance(v, str) else v["source"] for v in service["volumes"]}

    shared = sources(agent) & sources(init)
    assert shared == {"agent-state"}
    assert "ports" not in agent


def test_the_portal_runs_a_real_server(config):
    portal = config["services"]["portal"]
    assert "command" not in portal  # the image's own command
    assert portal["environment"]["BERTH_SERVER_WORKERS"] == "4"
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert "exec python -m registry_proxy.server --bind 0.0.0.0:8000" in cmd
    assert "runserver" not in dockerfile


def test_workers_and_beat_run_celery(config):
    assert config["services"]["worker"]["command"][:4] == ["celery", "-A", "portal", "worker"]
    assert config["services"]["beat"]["command"][:4] == ["celery", "-A", "portal", "beat"]
    for name in ("portal", "worker", "beat", "registry"):
        assert (
            config["services"][name]["depends_on"]["init"]["condition"]
            == "service_completed_successfully"
        )


def test_the_registry_deletes_and_checks_berths_credentials(config):
    registry = config["services"]["registry"]
    assert registry["image"] == "registry:2"
    env = registry["environment"]
    assert env["REGISTRY_STORAGE_DELETE_ENABLED"] == "true"
    assert env["REGISTRY_AUTH"] == "htpasswd"
    assert env["REGISTRY_HTTP_SECRET"] == "http-secret"
    assert mounts(registry)["/var/lib/registry"] == ("registry-data", "rw")
    assert mounts(registry)["/etc/berth-registry"] == ("registry-auth", "ro")
    assert env["REGISTRY_AUTH_HTPASSWD_PATH"].startswith("/etc/berth-registry/")
    # The cache would serve the layers of a deleted repository to the next owner of its name.
    assert env["REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR"] == ""


def test_the_portal_may_remove_what_distribution_stores_for_a_deleted_repository(config):
    services = config["services"]
    # Both write as Berth's user, to a volume given to it before either starts.
    assert services["registry"]["user"] == "10001:10001"
    assert mounts(services["portal"])["/var/lib/registry"] == ("registry-data", "rw")
    owner = services["registry-volume"]
    assert owner["entrypoint"] == ["chown", "-R", "10001:10001", "/var/lib/registry"]
    assert mounts(owner)["/var/lib/registry"] == ("registry-data", "rw")
    assert services["registry"]["depends_on"]["registry-volume"]["condition"] == "service_completed_successfully"


def test_distribution_stores_non_distributable_layers_for_the_urls_berth_allows(config):
    registry = config["services"]["registry"]["environment"]
    portal = config["services"]["portal"]["environment"]
    assert portal["BERTH_REGISTRY_MANIFEST_URLS_ALLOW"] == "^https?://"
    assert registry["REGISTRY_VALIDATION_MANIFESTS_URLS_ALLOW"] == '["^https?://"]'


def test_state_lives_in_named_volumes(config):
    assert {"postgres-data", "redis-data", "registry-data", "registry-auth", "berth-state"} <= set(
        config["volumes"]
    )
    services = config["services"]
    assert mounts(services["postgres"])["/var/lib/postgresql/data"] == ("postgres-data", "rw")
    assert mounts(services["redis"])["/data"] == ("redis-data", "rw")
    assert mounts(services["portal"])["/var/lib/berth"] == ("berth-state", "rw")


def test_the_image_runs_as_an_unprivileged_user_on_python_312():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.12-slim\n" in dockerfile
    assert "\nUSER berth\n" in dockerfile
    assert "FROM node:20-slim AS frontend" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".git", ".venv", "var", "frontend/node_modules"} <= set(ignored)
