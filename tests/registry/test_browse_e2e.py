"""End to end: images pushed through Berth's /v2/ with skopeo appear in the browse API, pulls are counted,
and a delete in the browse API is a delete in the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rest_framework.test import APIClient

from portal.rbac.principals import UserPrincipal
from tests.fixtures.artifacts import TWO_PLATFORMS
from tests.fixtures.registry import Berth


def test_push_through_berth_browse_pull_count_and_delete(berth: Berth, registry_user: Any, make_project: Any,
                                                         image_layouts: Any, tmp_path: Path) -> None:
    user, creds = registry_user()
    make_project("e2e", members={user: "maintainer"})
    berth.push(image_layouts.two_platforms, "e2e/multi:1.0", creds)
    berth.push(image_layouts.multilayer, "e2e/tools/builder:v1", creds)
    browse = APIClient()
    browse.force_authenticate(user=UserPrincipal(user))
    base = "/api/v1/projects/e2e/repositories"

    repositories = browse.get(base).json()
    [multi] = browse.get(f"{base}/multi/artifacts").json()["results"]
    builder = browse.get(f"{base}/tools%2Fbuilder/artifacts/v1").json()

    assert [r["name"] for r in repositories["results"]] == ["e2e/multi", "e2e/tools/builder"]
    assert sorted(f"{p['os']}/{p['architecture']}" for p in multi["platforms"]) == sorted(TWO_PLATFORMS)
    assert multi["pushed_by"] == user.username
    assert multi["pull_command"] == f"docker pull {berth.host}/e2e/multi@{multi['digest']}"
    assert [layer["created_by"] for layer in builder["layers"]] == ["tests/support/images.py"] * 3

    berth.pull("e2e/multi:1.0", tmp_path / "pulled", creds)
    berth.app.pulls.flush()
    pulled = browse.get(f"{base}/multi").json()
    assert pulled["pull_count"] >= 1 and pulled["last_pulled_at"] is not None

    deleted = browse.delete(f"{base}/tools%2Fbuilder/artifacts/v1")
    assert deleted.status_code == 200, deleted.content
    token = berth.bearer(creds, "repository:e2e/tools/builder:pull")
    gone = berth.http.get(f"{berth.url}/v2/e2e/tools/builder/manifests/{builder['digest']}", headers=token)
    assert gone.status_code == 404
    assert gone.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert browse.get(f"{base}/tools%2Fbuilder/artifacts").json()["results"] == []
