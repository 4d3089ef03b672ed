"""Per-project storage limits: usage from the blob index (each blob once), manifest pushes over the limit refused
with a message a docker user understands, nothing written; administrators set the limit."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from portal.storage.services import human_bytes
from tests.fixtures.registry import Berth
from tests.registry.test_registry_protocol import client, error_of

MIB = 1024 * 1024


@pytest.fixture
def team(registry_user: Any, make_project: Any) -> tuple[Any, tuple[str, str], Any]:
    user, creds = registry_user()
    project = make_project("quota", members={user: "maintainer"})
    project.storage_limit = 2 * MIB
    project.save()
    return user, creds, project


def _usage(client_for: Any, who: Any) -> int:
    return int(client_for(who).get("/api/v1/projects/quota").json()["storage_usage"])


def test_a_push_over_the_limit_is_refused_with_the_usage_and_what_it_needs(
        berth: Berth, team: Any, client_for: Any) -> None:
    from portal.artifacts.models import Artifact

    user, creds, _ = team
    pusher = client(berth, creds, "quota/app", "quota/other")
    layer, bigger = os.urandom(MIB), os.urandom(3 * MIB // 2)
    first, _ = pusher.image("quota/app", "v1", layer=layer)
    used = _usage(client_for, user)
    assert used == MIB + len(first) + len(b'{"architecture": "amd64", "os": "linux"}')

    config = pusher.upload("quota/other", b'{"architecture": "amd64", "os": "linux"}')
    document = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {**config, "mediaType": "application/vnd.oci.image.config.v1+json"},
                "layers": [pusher.upload("quota/other", layer), pusher.upload("quota/other", bigger)]}
    body = json.dumps(document).encode()
    refused = pusher.request("PUT", "/v2/quota/other/manifests/v1", content=body,
                             headers={"Content-Type": document["mediaType"]})

    assert (refused.status_code, error_of(refused)["code"]) == (403, "DENIED")
    assert error_of(refused)["message"] == (
        f"quota exceeded: project quota uses 1 MiB of 2 MiB, this push needs {human_bytes(len(bigger) + len(body))} "
        "more")
    assert human_bytes(len(bigger) + len(body)) == "1.5 MiB"
    assert not Artifact.objects.filter(repository__name="quota/other").exists()
    assert pusher.request("GET", "/v2/quota/other/manifests/v1",
                          headers={"Accept": document["mediaType"]}).status_code == 404
    assert _usage(client_for, user) == used


def test_what_the_project_holds_already_is_counted_once_and_never_refused(
        berth: Berth, team: Any, client_for: Any) -> None:
    user, creds, project = team
    pusher = client(berth, creds, "quota/app", "quota/copy")
    body, _ = pusher.image("quota/app", "v1", layer=os.urandom(MIB))
    used = _usage(client_for, user)
    project.storage_limit = used
    project.save()

    retagged = pusher.request("PUT", "/v2/quota/app/manifests/again", content=body,
                              headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert retagged.status_code == 201
    # The same image in a second repository of the project: its layer is shared, nothing more is needed.
    for digest in [blob["digest"] for blob in [json_of(body)["config"], *json_of(body)["layers"]]]:
        mounted = pusher.request("POST", f"/v2/quota/copy/blobs/uploads/?mount={digest}&from=quota/app")
        assert mounted.status_code == 201
    copied = pusher.request("PUT", "/v2/quota/copy/manifests/v1", content=body,
                            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})

    assert copied.status_code == 201, copied.text
    assert _usage(client_for, user) == used


def test_usage_falls_when_content_is_deleted(berth: Berth, team: Any, client_for: Any) -> None:
    user, creds, _ = team
    pusher = client(berth, creds, "quota/app")
    _, digest = pusher.image("quota/app", "v1", layer=os.urandom(1000))
    assert _usage(client_for, user) > 1000

    assert client_for(user).delete(f"/api/v1/projects/quota/repositories/app/artifacts/{digest}").status_code == 200

    assert _usage(client_for, user) == 0


def test_only_administrators_set_the_limit(db: Any, team: Any, client_for: Any, admin_user: Any) -> None:
    from portal.audit.models import AuditEntry

    user, _, project = team
    project.members.filter(user=user).update(role="project_admin")

    refused = client_for(user).patch("/api/v1/projects/quota", {"storage_limit": 10}, format="json")
    unlimited = client_for(admin_user).patch("/api/v1/projects/quota", {"storage_limit": None}, format="json")
    negative = client_for(admin_user).patch("/api/v1/projects/quota", {"storage_limit": -1}, format="json")

    assert (refused.status_code, refused.json()["errors"][0]["message"]) == (
        403, "only a system administrator may change the storage limit of project quota")
    assert (unlimited.status_code, unlimited.json()["storage_limit"]) == (200, None)
    assert negative.status_code == 400
    project.refresh_from_db()
    assert project.storage_limit is None
    assert AuditEntry.objects.filter(action="update", resource="quota").values_list("detail", flat=True).get() == {
        "storage_limit": None}


def json_of(body: bytes) -> Any:
    return json.loads(body)
