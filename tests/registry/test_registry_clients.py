"""Real clients (podman, skopeo) against Berth's /v2/, as a new user would: login, push, pull, who may do what."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.registry import Berth


def layout_digest(layout: Path) -> str:
    index = json.loads((layout / "index.json").read_text())
    return str(index["manifests"][0]["digest"])


def make_robot(project: Any, name: str, secret: str, actions: list[tuple[str, str]], *,
               expires_in: timedelta | None = None) -> tuple[str, str]:
    from django.utils import timezone

    from portal.robots.models import Robot, RobotPermission
    from portal.utilities.secrets import hash_secret

    robot = Robot.objects.create(name=name, project=project, secret_hash=hash_secret(secret),
                                 expires_at=timezone.now() + expires_in if expires_in is not None else None)
    for resource, action in actions:
        RobotPermission.objects.create(robot=robot, project=project, resource=resource, action=action)
    return robot.full_name, secret


def test_podman_login_then_skopeo_round_trip_keeps_digests_and_shows_the_config(
    berth: Berth, registry_user: Any, make_project: Any, image_layouts: Any, tmp_path: Path
) -> None:
    user, creds = registry_user()
    make_project("roundtrip", members={user: "developer"})
    authfile = tmp_path / "auth.json"

    login = berth.podman("login", "--tls-verify=false", "--authfile", str(authfile), "-u", creds[0],
                         "-p", creds[1], berth.host)
    assert "Login Succeeded" in login.stdout
    berth.push(image_layouts.single, "roundtrip/busybox:v1", None, "--authfile", str(authfile))
    pulled = tmp_path / "pulled"
    berth.skopeo("copy", "--src-tls-verify=false", "--authfile", str(authfile),
                 f"docker://{berth.host}/roundtrip/busybox:v1", f"oci:{pulled}:latest")
    inspect = json.loads(berth.skopeo("inspect", "--tls-verify=false", "--authfile", str(authfile),
                                      f"docker://{berth.host}/roundtrip/busybox:v1").stdout)
    config = json.loads(berth.skopeo("inspect", "--config", "--tls-verify=false", "--authfile", str(authfile),
                                     f"docker://{berth.host}/roundtrip/busybox:v1").stdout)

    assert layout_digest(pulled) == layout_digest(image_layouts.single)
    assert inspect["Digest"] == layout_digest(image_layouts.single)
    assert config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert config["config"]["User"] == "nobody"
    assert berth.direct().tags("roundtrip/busybox") == ["v1"]


def test_podman_login_with_a_wrong_password_fails(berth: Berth, registry_user: Any, tmp_path: Path) -> None:
    _, (username, _) = registry_user()

    result = berth.podman("login", "--tls-verify=false", "--authfile", str(tmp_path / "auth.json"), "-u",
                          username, "-p", "wrong-password", berth.host, check=False)

    assert result.returncode != 0
    assert "invalid username/password" in result.stderr


def test_a_developer_pushes_and_a_guest_is_denied(
    berth: Berth, registry_user: Any, make_project: Any, image_layouts: Any
) -> None:
    developer, developer_creds = registry_user()
    guest, guest_creds = registry_user()
    make_project("team", members={developer: "developer", guest: "guest"})
    berth.push(image_layouts.single, "team/app:1", developer_creds)

    refused = berth.push(image_layouts.multilayer, "team/app:2", guest_creds, check=False)

    assert refused.returncode != 0
    assert "denied" in refused.stderr.lower()
    assert berth.direct().tags("team/app") == ["1"]


def test_anonymous_pulls_a_public_project_but_not_a_private_one_nor_the_catalog(
    berth: Berth, registry_user: Any, make_project: Any, image_layouts: Any, tmp_path: Path
) -> None:
    owner, creds = registry_user()
    make_project("open", public=True, members={owner: "developer"})
    make_project("closed", members={owner: "developer"})
    berth.push(image_layouts.single, "open/busybox:1", creds)
    berth.push(image_layouts.single, "closed/busybox:1", creds)

    public = berth.pull("open/busybox:1", tmp_path / "public", None)
    private = berth.pull("closed/busybox:1", tmp_path / "private", None, check=False)
    catalog = berth.http.get(f"{berth.url}/v2/_catalog", headers=berth.bearer(None, "registry:catalog:*"))

    assert public.returncode == 0
    assert private.returncode != 0
    assert "authentication required" in private.stderr or "unauthorized" in private.stderr.lower()
    assert catalog.status_code == 401
    assert catalog.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_a_pull_only_robot_pulls_and_cannot_push(
    berth: Berth, registry_user: Any, make_project: Any, image_layouts: Any, tmp_path: Path
) -> None:
    owner, creds = registry_user()
    project = make_project("robots", members={owner: "developer"})
    berth.push(image_layouts.single, "robots/busybox:1", creds)
    robot = make_robot(project, "puller", "robot-secret-123456", [("repository", "pull")])

    pulled = berth.pull("robots/busybox:1", tmp_path / "pulled", robot)
    pushed = berth.push(image_layouts.multilayer, "robots/busybox:2", robot, check=False)

    assert pulled.returncode == 0
    assert pushed.returncode != 0
    assert "denied" in pushed.stderr.lower()
    assert berth.direct().tags("robots/busybox") == ["1"]


def test_an_expired_robot_cannot_log_in(berth: Berth, make_project: Any, tmp_path: Path) -> None:
    project = make_project("expired")
    name, secret = make_robot(project, "old", "robot-secret-123456", [("repository", "pull")],
                              expires_in=timedelta(seconds=-1))

    login = berth.podman("login", "--tls-verify=false", "--authfile", str(tmp_path / "auth.json"), "-u", name,
                         "-p", secret, berth.host, check=False)
    token = berth.http.get(f"{berth.url}/service/token", params={"service": "berth"},
                           headers={"Authorization": _basic(name, secret)})

    assert login.returncode != 0
    assert token.status_code == 401
    assert token.json()["errors"][0]["message"] == "invalid username or password"


def test_a_two_platform_index_pushed_with_all_keeps_both_platforms(
    berth: Berth, registry_user: Any, make_project: Any, image_layouts: Any, tmp_path: Path
) -> None:
    from portal.artifacts.models import Artifact

    user, creds = registry_user()
    make_project("multi", members={user: "developer"})

    berth.push(image_layouts.two_platforms, "multi/busybox:1", creds)
    pulled = tmp_path / "pulled"
    berth.pull("multi/busybox:1", pulled, creds)

    digest = layout_digest(image_layouts.two_platforms)
    assert layout_digest(pulled) == digest
    index = Artifact.objects.get(repository__name="multi/busybox", digest=digest)
    assert index.media_type == "application/vnd.oci.image.index.v1+json"
    assert Artifact.objects.filter(repository__name="multi/busybox").count() == 3


@pytest.mark.parametrize("role", ["limited_guest", "guest"])
def test_read_only_roles_pull_but_cannot_push(
    berth: Berth, registry_user: Any, make_project: Any, image_layouts: Any, tmp_path: Path, role: str
) -> None:
    owner, owner_creds = registry_user()
    reader, reader_creds = registry_user()
    make_project(f"ro-{role.replace('_', '-')}", members={owner: "maintainer", reader: role})
    repository = f"ro-{role.replace('_', '-')}/busybox"
    berth.push(image_layouts.single, f"{repository}:1", owner_creds)

    assert berth.pull(f"{repository}:1", tmp_path / "pulled", reader_creds).returncode == 0
    assert berth.push(image_layouts.single, f"{repository}:2", reader_creds, check=False).returncode != 0
    assert berth.direct().tags(repository) == ["1"]


def _basic(username: str, secret: str) -> str:
    from tests.fixtures.registry import basic

    return basic(username, secret)
