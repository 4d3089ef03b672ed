"""sha512 content through the running Berth: blobs uploaded, read, ranged and mounted by sha512, manifests
pushed and read by sha512, indexed and browsable, and the tag list and catalog of such a repository."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.fixtures.registry import Berth
from tests.registry.test_registry_protocol import (
    LAYER,
    OCI_CONFIG,
    OCI_MANIFEST,
    Client,
    client,
    error_of,
    sha256,
)

OCTETS = {"Content-Type": "application/octet-stream"}


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


@pytest.fixture
def owner(registry_user: Any, make_project: Any) -> tuple[Any, tuple[str, str]]:
    user, creds = registry_user()
    make_project("wide", members={user: "project_admin"})
    return user, creds


@pytest.fixture
def pusher(berth: Berth, owner: tuple[Any, tuple[str, str]]) -> Client:
    return client(berth, owner[1], "wide/app", "wide/copy")


@pytest.fixture(params=["sendfile", "streamed"])
def path_kind(request: pytest.FixtureRequest, berth: Berth) -> Iterator[str]:
    from registry_proxy.proxy import ProxyConfig

    if request.param == "streamed":
        berth.app.reset(dataclasses.replace(ProxyConfig.from_settings(), data_dir=None))
    yield request.param


def upload_512(pusher: Client, repository: str, data: bytes) -> Any:
    opened = pusher.request("POST", f"/v2/{repository}/blobs/uploads/")
    return pusher.request("PUT", f"{opened.headers['location']}?digest={sha512(data)}", content=data, headers=OCTETS)


def test_a_blob_uploaded_by_sha512_is_answered_by_that_digest(berth: Berth, pusher: Client, path_kind: str) -> None:
    data = b"wide content " * 500

    done = upload_512(pusher, "wide/app", data)
    head = pusher.request("HEAD", f"/v2/wide/app/blobs/{sha512(data)}")
    fetched = pusher.request("GET", f"/v2/wide/app/blobs/{sha512(data)}")
    ranged = pusher.request("GET", f"/v2/wide/app/blobs/{sha512(data)}", headers={"Range": "bytes=-5"})

    assert done.status_code == 201, done.text
    assert done.headers["docker-content-digest"] == sha512(data)
    assert done.headers["location"] == f"{berth.url}/v2/wide/app/blobs/{sha512(data)}"
    assert head.status_code == 200
    assert head.headers["docker-content-digest"] == sha512(data)
    assert head.headers["content-length"] == str(len(data))
    assert fetched.content == data
    assert fetched.headers["docker-content-digest"] == sha512(data)
    assert ranged.status_code == 206 and ranged.content == data[-5:]
    # The sha256 still names the same bytes.
    assert pusher.request("GET", f"/v2/wide/app/blobs/{sha256(data)}").content == data


def test_a_chunked_sha512_upload_is_verified(pusher: Client) -> None:
    data = b"first half" + b"second half"
    opened = pusher.request("POST", "/v2/wide/app/blobs/uploads/")
    location = opened.headers["location"]
    pusher.request("PATCH", location, content=data[:10], headers={**OCTETS, "Content-Range": "0-9"})
    pusher.request("PATCH", location, content=data[10:], headers={**OCTETS, "Content-Range": f"10-{len(data) - 1}"})

    done = pusher.request("PUT", f"{location}?digest={sha512(data)}")

    assert done.status_code == 201, done.text
    assert done.headers["docker-content-digest"] == sha512(data)
    assert pusher.request("GET", f"/v2/wide/app/blobs/{sha512(data)}").content == data


def test_a_wrong_sha512_is_digest_invalid_and_nothing_is_stored(pusher: Client) -> None:
    data = b"these bytes"
    opened = pusher.request("POST", "/v2/wide/app/blobs/uploads/")

    done = pusher.request("PUT", f"{opened.headers['location']}?digest={sha512(b'other bytes')}", content=data,
                          headers=OCTETS)

    assert done.status_code == 400
    assert error_of(done)["code"] == "DIGEST_INVALID"
    assert pusher.request("HEAD", f"/v2/wide/app/blobs/{sha512(b'other bytes')}").status_code == 404
    assert pusher.request("HEAD", f"/v2/wide/app/blobs/{sha256(data)}").status_code == 404


@pytest.mark.parametrize(("digest", "code", "message"), [
    ("md5:" + "0" * 32, "UNSUPPORTED", "unsupported digest algorithm 'md5'"),
    ("sha512:" + "0" * 64, "DIGEST_INVALID", "invalid sha512 digest 'sha512:" + "0" * 64 + "'"),
])
def test_unknown_algorithms_and_malformed_sha512_are_refused(pusher: Client, digest: str, code: str,
                                                               message: str) -> None:
    opened = pusher.request("POST", "/v2/wide/app/blobs/uploads/")

    put = pusher.request("PUT", f"{opened.headers['location']}?digest={digest}", content=b"x", headers=OCTETS)
    head = pusher.request("GET", f"/v2/wide/app/blobs/{digest}")

    for response in (put, head):
        assert response.status_code == 400
        assert error_of(response) == {"code": code, "message": message}


def test_a_mount_by_sha512_links_the_blob_by_that_digest(berth: Berth, pusher: Client) -> None:
    data = b"shared wide bytes"
    upload_512(pusher, "wide/app", data)

    mounted = pusher.request("POST", f"/v2/wide/copy/blobs/uploads/?mount={sha512(data)}&from=wide/app")
    head = pusher.request("HEAD", f"/v2/wide/copy/blobs/{sha512(data)}")
    unknown = pusher.request("POST", f"/v2/wide/copy/blobs/uploads/?mount={sha512(b'never pushed')}&from=wide/app")

    assert mounted.status_code == 201, mounted.text
    assert mounted.headers["docker-content-digest"] == sha512(data)
    assert mounted.headers["location"] == f"{berth.url}/v2/wide/copy/blobs/{sha512(data)}"
    assert head.status_code == 200
    assert head.headers["docker-content-digest"] == sha512(data)
    assert unknown.status_code == 202  # nothing to mount: a plain upload session, as the spec says


def test_a_manifest_naming_mounted_sha512_blobs_is_accepted_in_the_target(pusher: Client) -> None:
    manifest, config, layer = push_sha512_image(pusher)
    for blob in (config, layer):
        mounted = pusher.request("POST", f"/v2/wide/copy/blobs/uploads/?mount={sha512(blob)}&from=wide/app")
        assert mounted.status_code == 201, mounted.text
    again = pusher.request("POST", f"/v2/wide/copy/blobs/uploads/?mount={sha512(layer)}&from=wide/app")

    pushed = pusher.request("PUT", "/v2/wide/copy/manifests/v1", content=manifest,
                            headers={"Content-Type": OCI_MANIFEST})

    assert again.status_code == 201  # already linked: nothing copied twice
    assert pushed.status_code == 201, pushed.text
    assert pusher.request("GET", f"/v2/wide/copy/blobs/{sha512(layer)}").content == layer


def push_sha512_image(pusher: Client) -> tuple[bytes, bytes, bytes]:
    config = json.dumps({"architecture": "arm64", "os": "linux"}).encode()
    layer = b"a wide layer" * 100
    for blob in (config, layer):
        assert upload_512(pusher, "wide/app", blob).status_code == 201
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha512(config), "size": len(config)},
        "layers": [{"mediaType": LAYER, "digest": sha512(layer), "size": len(layer)}],
    }).encode()
    return manifest, config, layer


def test_a_manifest_pushed_by_sha512_is_served_by_that_digest_and_by_tag(berth: Berth, pusher: Client) -> None:
    manifest, _, _ = push_sha512_image(pusher)
    headers = {"Content-Type": OCI_MANIFEST}

    by_digest = pusher.request("PUT", f"/v2/wide/app/manifests/{sha512(manifest)}", content=manifest, headers=headers)
    by_tag = pusher.request("PUT", "/v2/wide/app/manifests/v1", content=manifest, headers=headers)
    read = pusher.request("GET", f"/v2/wide/app/manifests/{sha512(manifest)}", headers={"Accept": OCI_MANIFEST})
    head = pusher.request("HEAD", f"/v2/wide/app/manifests/{sha512(manifest)}", headers={"Accept": OCI_MANIFEST})
    tagged = pusher.request("GET", "/v2/wide/app/manifests/v1", headers={"Accept": OCI_MANIFEST})

    assert by_digest.status_code == 201, by_digest.text
    assert by_digest.headers["docker-content-digest"] == sha512(manifest)
    assert by_digest.headers["location"] == f"{berth.url}/v2/wide/app/manifests/{sha512(manifest)}"
    assert by_tag.status_code == 201, by_tag.text
    assert read.status_code == 200
    assert read.content == manifest
    assert read.headers["docker-content-digest"] == sha512(manifest)
    assert read.headers["content-type"] == OCI_MANIFEST
    assert head.status_code == 200 and head.content == b""
    assert tagged.content == manifest


def test_a_manifest_whose_bytes_do_not_match_its_sha512_is_digest_invalid(pusher: Client) -> None:
    manifest, _, _ = push_sha512_image(pusher)

    refused = pusher.request("PUT", f"/v2/wide/app/manifests/{sha512(manifest + b' ')}", content=manifest,
                             headers={"Content-Type": OCI_MANIFEST})
    unknown = pusher.request("GET", f"/v2/wide/app/manifests/{sha512(manifest + b' ')}")

    assert refused.status_code == 400
    assert error_of(refused) == {"code": "DIGEST_INVALID",
                                 "message": f"the manifest's digest is not {sha512(manifest + b' ')}"}
    assert unknown.status_code == 404
    assert error_of(unknown)["code"] == "MANIFEST_UNKNOWN"


def test_a_sha512_manifest_is_indexed_and_browsable(pusher: Client, owner: tuple[Any, tuple[str, str]]) -> None:
    from portal.artifacts.models import Artifact, DigestAlias
    from portal.audit.models import AuditEntry
    from portal.rbac.principals import UserPrincipal

    manifest, config, layer = push_sha512_image(pusher)
    pusher.request("PUT", f"/v2/wide/app/manifests/{sha512(manifest)}", content=manifest,
                   headers={"Content-Type": OCI_MANIFEST})
    api = APIClient()
    api.force_authenticate(user=UserPrincipal(owner[0]))

    detail = api.get(f"/api/v1/projects/wide/repositories/app/artifacts/{sha256(manifest)}")
    by_alias = api.get(f"/api/v1/projects/wide/repositories/app/artifacts/{sha512(manifest)}")

    artifact = Artifact.objects.get(repository__name="wide/app")
    assert artifact.digest == sha256(manifest)
    assert artifact.architecture == "arm64"  # the config was read by its sha512
    assert artifact.size == len(manifest) + len(config) + len(layer)
    assert DigestAlias.objects.get(alias=sha512(manifest)).canonical == sha256(manifest)
    assert AuditEntry.objects.filter(action="push", resource=f"wide/app@{sha256(manifest)}").exists()
    assert detail.status_code == 200, detail.content
    assert detail.json()["digest"] == sha256(manifest)
    assert by_alias.status_code == 200, by_alias.content
    assert by_alias.json()["digest"] == sha256(manifest)


def test_tag_lists_and_the_catalog_are_unchanged_for_sha512_repositories(
    berth: Berth, pusher: Client, admin_user: Any
) -> None:
    from tests.fixtures.portal import PASSWORD

    manifest, _, _ = push_sha512_image(pusher)
    pusher.request("PUT", f"/v2/wide/app/manifests/{sha512(manifest)}", content=manifest,
                   headers={"Content-Type": OCI_MANIFEST})
    for tag in ("b", "a", "c"):
        pusher.request("PUT", f"/v2/wide/app/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST})

    every = pusher.request("GET", "/v2/wide/app/tags/list")
    page = pusher.request("GET", "/v2/wide/app/tags/list?n=1&last=a")
    catalog = berth.http.get(f"{berth.url}/v2/_catalog",
                             headers=berth.bearer(("root-admin", PASSWORD), "registry:catalog:*"))

    assert every.json() == {"name": "wide/app", "tags": ["a", "b", "c"]}
    assert page.json() == {"name": "wide/app", "tags": ["b"]}
    assert page.headers["link"] == '</v2/wide/app/tags/list?n=1&last=b>; rel="next"'
    assert "wide/app" in catalog.json()["repositories"]


def test_a_manifest_deleted_by_its_sha512_is_gone_from_distribution_and_the_index(
    berth: Berth, pusher: Client, owner: tuple[Any, tuple[str, str]]
) -> None:
    from portal.artifacts.models import Artifact

    manifest, _, _ = push_sha512_image(pusher)
    pusher.request("PUT", f"/v2/wide/app/manifests/{sha512(manifest)}", content=manifest,
                   headers={"Content-Type": OCI_MANIFEST})
    deleter = client(berth, owner[1], "wide/app", actions="pull,push,delete")

    deleted = deleter.request("DELETE", f"/v2/wide/app/manifests/{sha512(manifest)}")
    unknown = deleter.request("DELETE", f"/v2/wide/app/manifests/{sha512(b'never pushed')}")

    assert deleted.status_code == 202, deleted.text
    assert pusher.request("GET", f"/v2/wide/app/manifests/{sha512(manifest)}").status_code == 404
    assert pusher.request("GET", f"/v2/wide/app/manifests/{sha256(manifest)}").status_code == 404
    assert not Artifact.objects.filter(repository__name="wide/app").exists()
    assert unknown.status_code == 404
    assert error_of(unknown)["code"] == "MANIFEST_UNKNOWN"


def test_a_blob_deleted_by_its_sha512_is_gone_by_both_digests(berth: Berth, pusher: Client,
                                                                owner: tuple[Any, tuple[str, str]]) -> None:
    data = b"short-lived wide bytes"
    upload_512(pusher, "wide/app", data)
    deleter = client(berth, owner[1], "wide/app", actions="pull,push,delete")

    deleted = deleter.request("DELETE", f"/v2/wide/app/blobs/{sha512(data)}")

    assert deleted.status_code == 202, deleted.text
    assert deleter.request("HEAD", f"/v2/wide/app/blobs/{sha512(data)}").status_code == 404
    assert deleter.request("HEAD", f"/v2/wide/app/blobs/{sha256(data)}").status_code == 404


def test_a_sha512_image_uses_the_blob_rows_its_uploads_wrote(pusher: Client) -> None:
    """The blob index keys content by the sha256 distribution stores it under: a manifest naming its layers by
    sha512 uses the rows their uploads wrote, so garbage collection sees those bytes as used."""
    import hashlib

    from portal.storage.models import ArtifactBlob, Blob

    manifest, config, layer = push_sha512_image(pusher)
    pushed = pusher.request("PUT", "/v2/wide/app/manifests/v1", content=manifest,
                            headers={"Content-Type": OCI_MANIFEST})

    assert pushed.status_code == 201, pushed.text
    used = set(ArtifactBlob.objects.filter(artifact__repository__name="wide/app", role__in=["config", "layer"])
               .values_list("blob__digest", flat=True))
    assert used == {"sha256:" + hashlib.sha256(blob).hexdigest() for blob in (config, layer)}
    assert not Blob.objects.filter(digest__startswith="sha512:").exists()
