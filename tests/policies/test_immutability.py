"""Immutable tags: skopeo cannot move one to another digest, re-pushing its digest works, deletes are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.registry import Berth
from tests.registry.test_registry_protocol import client, error_of
from tests.support.images import build_busybox_layout

MESSAGE = 'tag 1.0 of frozen/app is immutable (rule "1.*, release-*")'


@pytest.fixture(scope="module")
def two_images(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("immutable")
    return (build_busybox_layout(root / "one", config={"Env": ["WHICH=one"]}),
            build_busybox_layout(root / "two", config={"Env": ["WHICH=two"]}))


def _team(registry_user: Any, make_project: Any, client_for: Any) -> tuple[tuple[str, str], Any, Any]:
    developer, creds = registry_user()
    maintainer, _ = registry_user()
    project = make_project("frozen", members={developer: "developer", maintainer: "maintainer"})
    created = client_for(maintainer).post("/api/v1/projects/frozen/immutability-rules",
                                          {"tags": ["1.*", "release-*"], "repositories": ["app"]}, format="json")
    assert created.status_code == 201, created.content
    return creds, maintainer, project


def _digest(berth: Berth, repository: str, tag: str) -> str:
    return berth.direct().head_manifest(repository, tag)[0]


def test_skopeo_cannot_move_an_immutable_tag_but_may_push_its_digest_again(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any, two_images: tuple[Path, Path]
) -> None:
    from portal.artifacts.models import Tag

    creds, _, _ = _team(registry_user, make_project, client_for)
    one, two = two_images
    berth.push(one, "frozen/app:1.0", creds)
    first = Tag.objects.get(repository__name="frozen/app", name="1.0").artifact.digest

    moved = berth.push(two, "frozen/app:1.0", creds, check=False)
    again = berth.push(one, "frozen/app:1.0", creds, check=False)
    other_tag = berth.push(two, "frozen/app:latest", creds, check=False)

    assert moved.returncode != 0
    # skopeo prints the registry's message after `denied:`, its quotes escaped by its logger.
    assert f"denied: {MESSAGE}".replace('"', '\\"') in moved.stderr
    assert again.returncode == 0, again.stderr
    assert other_tag.returncode == 0, other_tag.stderr
    assert Tag.objects.get(repository__name="frozen/app", name="1.0").artifact.digest == first
    assert _digest(berth, "frozen/app", "1.0") == first  # distribution never saw the refused manifest


def test_moving_an_immutable_tag_over_v2_is_denied_with_the_rule(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any
) -> None:
    creds, _, _ = _team(registry_user, make_project, client_for)
    pusher = client(berth, creds, "frozen/app")
    pusher.image("frozen/app", "1.0", layer=b"first")
    second, _ = pusher.image("frozen/app", "second", layer=b"second")

    refused = pusher.request("PUT", "/v2/frozen/app/manifests/1.0", content=second,
                             headers={"Content-Type": json.loads(second)["mediaType"]})

    assert refused.status_code == 403
    assert error_of(refused) == {"code": "DENIED", "message": MESSAGE}


def test_deleting_an_immutable_tag_or_its_artifact_is_refused_in_the_api_and_on_v2(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any
) -> None:
    from portal.artifacts.models import Tag
    from tests.fixtures.portal import PASSWORD

    creds, maintainer, _ = _team(registry_user, make_project, client_for)
    _, digest = client(berth, creds, "frozen/app").image("frozen/app", "1.0", layer=b"kept")
    deleter = client(berth, (maintainer.username, PASSWORD), "frozen/app", actions="pull,delete")
    api = client_for(maintainer)

    tag_by_api = api.delete(f"/api/v1/projects/frozen/repositories/app/artifacts/{digest}/tags/1.0")
    artifact_by_api = api.delete(f"/api/v1/projects/frozen/repositories/app/artifacts/{digest}")
    tag_by_v2 = deleter.request("DELETE", "/v2/frozen/app/manifests/1.0")
    artifact_by_v2 = deleter.request("DELETE", f"/v2/frozen/app/manifests/{digest}")

    for response in (tag_by_api, artifact_by_api):
        assert response.status_code == 409
        assert response.json()["errors"][0] == {"code": "tag_immutable", "message": MESSAGE}
    for response in (tag_by_v2, artifact_by_v2):
        assert response.status_code == 409
        assert error_of(response) == {"code": "DENIED", "message": MESSAGE, "detail": {"reason": "tag_immutable"}}
    assert Tag.objects.filter(repository__name="frozen/app", name="1.0").exists()
    assert _digest(berth, "frozen/app", digest) == digest


@pytest.mark.parametrize("role", ["developer", "guest"])
def test_only_maintainers_and_above_manage_immutability_rules(
    berth: Berth, make_user: Any, make_project: Any, client_for: Any, role: str
) -> None:
    from portal.policies.models import ImmutabilityRule

    member, maintainer = make_user(), make_user()
    make_project("rules", members={member: role, maintainer: "maintainer"})

    listed = client_for(member).get("/api/v1/projects/rules/immutability-rules")
    created = client_for(member).post("/api/v1/projects/rules/immutability-rules", {"tags": ["*"]}, format="json")
    by_maintainer = client_for(maintainer).post("/api/v1/projects/rules/immutability-rules", {"tags": ["v*"]},
                                                format="json")

    assert listed.status_code == 403
    assert created.status_code == 403
    assert by_maintainer.status_code == 201
    assert list(ImmutabilityRule.objects.values_list("tags", flat=True)) == [["v*"]]
