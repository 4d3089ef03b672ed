"""The /v2/ protocol over raw HTTP: token service, OCI errors, uploads, tags, referrers, deletes, policy checks."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import time
from typing import Any

import httpx
import pytest

from tests.fixtures.registry import Berth, basic

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def error_of(response: httpx.Response) -> dict[str, Any]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    return dict(errors[0])


class Client:
    """Raw /v2/ calls with one bearer token."""

    def __init__(self, berth: Berth, headers: dict[str, str]) -> None:
        self.berth, self.headers = berth, headers

    def url(self, path: str) -> str:
        return f"{self.berth.url}{path}"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.berth.http.request(method, self.url(path) if path.startswith("/") else path, headers=headers,
                                       **kwargs)

    def upload(self, repository: str, data: bytes) -> dict[str, Any]:
        start = self.request("POST", f"/v2/{repository}/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = start.headers["location"]
        assert location.startswith(self.berth.url + f"/v2/{repository}/blobs/uploads/")
        done = self.request("PUT", str(httpx.URL(location).copy_merge_params({"digest": sha256(data)})),
                            content=data, headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, done.text
        assert done.headers["docker-content-digest"] == sha256(data)
        return {"mediaType": LAYER, "digest": sha256(data), "size": len(data)}

    def image(self, repository: str, tag: str, layer: bytes = b"layer", **extra: Any) -> tuple[bytes, str]:
        config = self.upload(repository, json.dumps({"architecture": "amd64", "os": "linux"}).encode())
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {**config, "mediaType": OCI_CONFIG},
                    "layers": [self.upload(repository, layer)], **extra}
        body = json.dumps(document).encode()
        response = self.request("PUT", f"/v2/{repository}/manifests/{tag}", content=body,
                                headers={"Content-Type": OCI_MANIFEST})
        assert response.status_code == 201, response.text
        return body, sha256(body)


@pytest.fixture
def developer(registry_user: Any, make_project: Any) -> tuple[Any, tuple[str, str], Any]:
    user, creds = registry_user()
    project = make_project("proto", members={user: "developer"})
    return user, creds, project


def client(berth: Berth, creds: tuple[str, str] | None, *repositories: str, actions: str = "pull,push") -> Client:
    return Client(berth, berth.bearer(creds, *(f"repository:{r}:{actions}" for r in repositories)))


# --- authentication and tokens ---------------------------------------------------------------------------------


def test_v2_without_credentials_challenges_with_the_token_realm(berth: Berth) -> None:
    response = berth.http.get(f"{berth.url}/v2/")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer realm="{berth.url}/service/token",service="berth"'
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"
    assert error_of(response)["code"] == "UNAUTHORIZED"


def test_a_repository_challenge_names_the_scope(berth: Berth) -> None:
    response = berth.http.get(f"{berth.url}/v2/proto/app/manifests/latest")

    assert response.status_code == 401
    assert 'scope="repository:proto/app:pull"' in response.headers["www-authenticate"]


def test_the_token_grants_only_the_allowed_subset_of_the_requested_scopes(
    berth: Berth, developer: Any, make_project: Any, admin_user: Any
) -> None:
    _, creds, _ = developer
    make_project("elsewhere")

    token = berth.token(creds, "repository:proto/app:pull,push,delete", "repository:elsewhere/x:pull",
                        "registry:catalog:*", "repository:proto/other:*")
    admin = berth.token(("root-admin", creds[1]), "registry:catalog:*", "repository:elsewhere/x:*")

    assert berth.claims(token)["access"] == [
        {"type": "repository", "name": "proto/app", "actions": ["pull", "push"]},
        {"type": "repository", "name": "proto/other", "actions": ["pull", "push"]},
    ]
    assert berth.claims(admin)["access"] == [
        {"type": "registry", "name": "catalog", "actions": ["*"]},
        {"type": "repository", "name": "elsewhere/x", "actions": ["pull", "push", "delete"]},
    ]


def test_the_token_response_has_the_docker_fields_and_the_configured_lifetime(berth: Berth, developer: Any) -> None:
    from portal.system.models import SystemSettings

    SystemSettings.objects.update_or_create(pk=1, defaults={"registry_token_lifetime_seconds": 120})
    _, creds, _ = developer

    response = berth.http.get(f"{berth.url}/service/token", params={"service": "berth", "scope": "repository:proto/a:pull"},
                              headers={"Authorization": basic(*creds)})

    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"token", "access_token", "expires_in", "issued_at"}
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 120
    claims = berth.claims(body["token"])
    assert claims["exp"] - claims["iat"] == 120
    assert claims["sub"] == creds[0]


def test_wrong_credentials_get_401_from_the_token_service(berth: Berth, developer: Any) -> None:
    _, (username, _), _ = developer

    response = berth.http.get(f"{berth.url}/service/token", params={"service": "berth"},
                              headers={"Authorization": basic(username, "wrong")})

    assert response.status_code == 401
    assert error_of(response) == {"code": "UNAUTHORIZED", "message": "invalid username or password"}


def test_a_bearer_token_sent_to_the_token_service_is_told_to_send_basic(berth: Berth, developer: Any) -> None:
    _, creds, _ = developer
    held = berth.bearer(creds, "repository:proto/a:pull")

    response = berth.http.get(f"{berth.url}/service/token", params={"service": "berth"}, headers=held)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="berth"'
    assert error_of(response) == {"code": "UNAUTHORIZED", "message": (
        "the token service takes Basic credentials (a user name with a password, personal access token or robot "
        "secret), not a Bearer token")}


def test_a_remembered_password_stops_working_once_changed_or_the_user_is_deactivated(
    berth: Berth, developer: Any
) -> None:
    user, (username, password), _ = developer
    token = {"service": "berth"}

    first = berth.http.get(f"{berth.url}/service/token", params=token, headers={"Authorization": basic(username, password)})
    user.set_password("Another-Password-42")
    user.save()
    after_change = berth.http.get(f"{berth.url}/service/token", params=token,
                                  headers={"Authorization": basic(username, password)})
    user.set_password(password)
    user.save()
    again = berth.http.get(f"{berth.url}/service/token", params=token, headers={"Authorization": basic(username, password)})
    user.is_active = False
    user.save()
    deactivated = berth.http.get(f"{berth.url}/service/token", params=token,
                                 headers={"Authorization": basic(username, password)})

    assert [first.status_code, after_change.status_code, again.status_code, deactivated.status_code] == [
        200, 401, 200, 401]


def test_the_oauth2_password_grant_issues_a_token(berth: Berth, developer: Any) -> None:
    _, (username, password), _ = developer

    response = berth.http.post(f"{berth.url}/service/token", data={
        "grant_type": "password", "username": username, "password": password, "service": "berth",
        "scope": "repository:proto/app:pull", "client_id": "podman"})
    refused = berth.http.post(f"{berth.url}/service/token", data={"grant_type": "refresh_token", "refresh_token": "x"})

    assert response.status_code == 200
    assert berth.claims(response.json()["access_token"])["access"] == [
        {"type": "repository", "name": "proto/app", "actions": ["pull"]}]
    assert refused.status_code == 400
    assert refused.json()["error"] == "unsupported_grant_type"


def test_an_expired_token_or_one_from_an_unknown_key_is_refused(berth: Berth, developer: Any) -> None:
    from portal.rbac.principals import AnonymousPrincipal
    from portal.registry.tokens import KeyRing, Scope, issue

    old, _, _ = issue(berth.app.keys, AnonymousPrincipal(), [Scope("repository", "proto/a", ("pull",))], 60,
                      now=time.time() - 120)
    foreign, _, _ = issue(KeyRing(berth.workdir / "foreign"), AnonymousPrincipal(), [], 600)

    expired = berth.http.get(f"{berth.url}/v2/", headers={"Authorization": f"Bearer {old}"})
    unknown = berth.http.get(f"{berth.url}/v2/", headers={"Authorization": f"Bearer {foreign}"})

    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert error_of(expired)["message"] == "invalid token: Signature has expired"
    assert unknown.status_code == 401
    assert error_of(unknown)["message"] == "invalid token: token signed by an unknown key"


def test_after_a_key_rotation_old_tokens_still_verify_and_new_ones_use_the_new_key(
    berth: Berth, developer: Any
) -> None:
    from django.core.management import call_command

    _, creds, _ = developer
    before = berth.token(creds)
    old_kid = berth.claims_header(before)["kid"]

    call_command("rotate_registry_key", stdout=io.StringIO())
    time.sleep(0.01)
    after = berth.token(creds)
    new_kid = berth.claims_header(after)["kid"]

    assert new_kid != old_kid
    berth.app.verifier.clear()
    for token in (before, after):
        assert berth.http.get(f"{berth.url}/v2/", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_basic_credentials_work_directly_on_v2(berth: Berth, developer: Any) -> None:
    _, creds, _ = developer
    pusher = client(berth, creds, "proto/basic")
    _, digest = pusher.image("proto/basic", "1")

    response = berth.http.get(f"{berth.url}/v2/proto/basic/manifests/1",
                              headers={"Authorization": basic(*creds), "Accept": OCI_MANIFEST})
    wrong = berth.http.get(f"{berth.url}/v2/proto/basic/manifests/1", headers={"Authorization": basic(creds[0], "x")})

    assert response.status_code == 200
    assert response.headers["docker-content-digest"] == digest
    assert wrong.status_code == 401


# --- names, references, policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v2/Proto/App/tags/list", "/v2/solo/tags/list", "/v2/proto/a..b/tags/list",
                                  "/v2/proto/-x/manifests/latest"])
def test_bad_repository_names_are_refused_with_name_invalid(berth: Berth, developer: Any, path: str) -> None:
    _, creds, _ = developer
    headers = {"Authorization": basic(*creds)}

    response = berth.http.get(f"{berth.url}{path}", headers=headers)

    assert response.status_code == 400
    assert error_of(response)["code"] == "NAME_INVALID"


@pytest.mark.parametrize(("path", "code"), [
    ("/v2/proto/app/blobs/sha256:1234", "DIGEST_INVALID"),
    ("/v2/proto/app/blobs/sha256:" + "G" * 64, "DIGEST_INVALID"),
    ("/v2/proto/app/referrers/notadigest", "DIGEST_INVALID"),
])
def test_malformed_digests_on_blobs_and_referrers_get_400_oci_errors(
    berth: Berth, developer: Any, path: str, code: str
) -> None:
    _, creds, _ = developer

    response = client(berth, creds, "proto/app").request("GET", path)

    assert response.status_code == 400
    assert error_of(response)["code"] == code


def test_a_missing_project_is_refused_as_a_private_one_is(berth: Berth, developer: Any) -> None:
    user, creds, _ = developer

    response = berth.http.get(f"{berth.url}/v2/ghost/app/tags/list", headers={"Authorization": basic(*creds)})

    assert response.status_code == 403
    assert error_of(response) == {"code": "DENIED", "message": f"{user.username} may not pull repository ghost/app "
                                  "(it does not exist, or you have no access to it)"}


def test_a_token_outliving_its_project_gets_name_unknown(berth: Berth, developer: Any) -> None:
    from portal.projects.models import Project

    _, creds, project = developer
    headers = berth.bearer(creds, "repository:proto/app:pull")
    Project.objects.filter(pk=project.pk).delete()
    berth.app.projects.clear()

    response = berth.http.get(f"{berth.url}/v2/proto/app/tags/list", headers=headers)

    assert response.status_code == 404
    assert error_of(response) == {"code": "NAME_UNKNOWN", "message": "project proto does not exist"}


def test_read_only_mode_refuses_writes_and_serves_reads(berth: Berth, developer: Any) -> None:
    from portal.artifacts.models import Artifact
    from portal.system.models import SystemSettings

    _, creds, _ = developer
    pusher = client(berth, creds, "proto/ro")
    pusher.image("proto/ro", "1")
    SystemSettings.objects.update_or_create(pk=1, defaults={"read_only": True})
    berth.app.reset()

    refused = pusher.request("POST", "/v2/proto/ro/blobs/uploads/")
    read = pusher.request("GET", "/v2/proto/ro/manifests/1", headers={"Accept": OCI_MANIFEST})

    assert refused.status_code == 403
    assert error_of(refused) == {"code": "DENIED", "message": "Berth is in read-only mode: pushes and deletes are "
                                                               "refused until an administrator turns it off"}
    assert read.status_code == 200
    assert Artifact.objects.filter(repository__name="proto/ro").count() == 1


def test_a_pull_only_token_pushing_is_challenged_for_the_push_scope(berth: Berth, developer: Any) -> None:
    from portal.audit.models import AuditEntry

    user, creds, _ = developer
    reader = client(berth, creds, "proto/scoped", actions="pull")

    refused = reader.request("POST", "/v2/proto/scoped/blobs/uploads/")

    assert refused.status_code == 401
    assert error_of(refused) == {"code": "UNAUTHORIZED",
                                 "message": "this token does not grant push on repository proto/scoped"}
    assert refused.headers["www-authenticate"] == (
        f'Bearer realm="{berth.url}/service/token",service="berth",scope="repository:proto/scoped:pull,push",'
        'error="insufficient_scope"')
    assert AuditEntry.objects.filter(actor=user.username, action="push", outcome="denied").count() == 1
    pusher = client(berth, creds, "proto/scoped")
    assert pusher.request("POST", "/v2/proto/scoped/blobs/uploads/").status_code == 202


def test_unknown_routes_and_methods_are_oci_errors(berth: Berth, developer: Any) -> None:
    _, creds, _ = developer
    pusher = client(berth, creds, "proto/app")

    method = pusher.request("POST", "/v2/proto/app/tags/list")
    route = pusher.request("GET", "/v2/proto/app/nothing-here")

    assert method.status_code == 405
    assert error_of(method)["code"] == "UNSUPPORTED"
    assert route.status_code == 404


# --- uploads ---------------------------------------------------------------------------------------------------


def test_chunked_upload_with_patch_then_put(berth: Berth, developer: Any) -> None:
    _, creds, _ = developer
    pusher = client(berth, creds, "proto/chunks")
    data = b"a" * 300_000 + b"b" * 200_000

    start = pusher.request("POST", "/v2/proto/chunks/blobs/uploads/")
    first = pusher.request("PATCH", start.headers["location"], content=data[:300_000],
                           headers={"Content-Range": "0-299999", "Content-Type": "application/octet-stream"})
    second = pusher.request("PATCH", first.headers["location"], content=data[300_000:],
                            headers={"Content-Range": "300000-499999", "Content-Type": "application/octet-stream"})
    status = pusher.request("GET", second.headers["location"])
    done = pusher.request("PUT", str(httpx.URL(second.headers["location"]).copy_merge_params({"digest": sha256(data)})))
    fetched = pusher.request("GET", f"/v2/proto/chunks/blobs/{sha256(data)}")

    assert first.status_code == second.status_code == 202
    assert first.headers["range"] == "0-299999"
    assert second.headers["range"] == "0-499999"
    assert second.headers["docker-upload-uuid"] == start.headers["docker-upload-uuid"]
    assert status.status_code == 204
    assert done.status_code == 201
    assert done.headers["location"].startswith(berth.url + "/v2/proto/chunks/blobs/")
    assert fetched.content == data
    assert fetched.headers["docker-content-digest"] == sha256(data)


def test_a_wrong_digest_on_completion_is_digest_invalid_and_nothing_is_stored(berth: Berth, developer: Any) -> None:
    _, creds, _ = developer
    pusher = client(berth, creds, "proto/wrong")
    data = b"payload" * 1000

    start = pusher.request("POST", "/v2/proto/wrong/blobs/uploads/")
    done = pusher.request("PUT", str(httpx.URL(start.headers["location"]).copy_merge_params(
        {"digest": sha256(b"something else")})), content=data)
    malformed = pusher.request("PUT", str(httpx.URL(start.headers["location"]).copy_merge_params(
        {"digest": "sha256:nothex"})), content=data)

    assert done.status_code == 400
    assert error_of(done)["code"] == "DIGEST_INVALID"
    assert malformed.status_code == 400
    assert error_of(malformed)["code"] == "DIGEST_INVALID"
    assert pusher.request("HEAD", f"/v2/proto/wrong/blobs/{sha256(data)}").status_code == 404


def test_a_truncated_upload_stores_nothing_and_indexes_nothing(berth: Berth, developer: Any) -> None:
    from portal.artifacts.models import Repository

    _, creds, _ = developer
    pusher = client(berth, creds, "proto/cut")
    data = b"x" * 100_000
    start = pusher.request("POST", "/v2/proto/cut/blobs/uploads/")
    location = httpx.URL(start.headers["location"])
    target = location.copy_merge_params({"digest": sha256(data)})

    with socket.create_connection(("127.0.0.1", int(berth.host.rsplit(":", 1)[1]))) as sock:
        request = (f"PUT {target.raw_path.decode()} HTTP/1.1\r\nHost: {berth.host}\r\n"
                   f"Authorization: {pusher.headers['Authorization']}\r\nContent-Length: {len(data)}\r\n"
                   "Content-Type: application/octet-stream\r\n\r\n").encode()
        sock.sendall(request + data[:40_000])
    time.sleep(0.5)
    finish = pusher.request("PUT", str(target), content=b"")

    assert finish.status_code in (400, 404)
    assert error_of(finish)["code"] in ("DIGEST_INVALID", "BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID")
    assert pusher.request("HEAD", f"/v2/proto/cut/blobs/{sha256(data)}").status_code == 404
    assert not Repository.objects.filter(name="proto/cut").exists()


def test_cross_repository_mount_needs_pull_on_the_source(
    berth: Berth, developer: Any, registry_user: Any, make_project: Any
) -> None:
    user, creds, _ = developer
    stranger, stranger_creds = registry_user()
    make_project("secret", members={stranger: "developer"})
    make_project("shared", members={stranger: "developer", user: "guest"})
    secret_blob = client(berth, stranger_creds, "secret/data").upload("secret/data", b"top secret")["digest"]
    shared_blob = client(berth, stranger_creds, "shared/data").upload("shared/data", b"shared bytes")["digest"]
    mover = client(berth, creds, "proto/mine", "secret/data", "shared/data")

    refused = mover.request("POST", f"/v2/proto/mine/blobs/uploads/?mount={secret_blob}&from=secret/data")
    allowed = mover.request("POST", f"/v2/proto/mine/blobs/uploads/?mount={shared_blob}&from=shared/data")

    assert refused.status_code == 202  # a plain upload session, as the spec says for a refused mount
    assert "/blobs/uploads/" in refused.headers["location"]
    assert mover.request("HEAD", f"/v2/proto/mine/blobs/{secret_blob}").status_code == 404
    assert allowed.status_code == 201
    assert mover.request("HEAD", f"/v2/proto/mine/blobs/{shared_blob}").status_code == 200


# --- manifests, tags, referrers --------------------------------------------------------------------------------


def test_manifest_push_is_indexed_and_reads_come_back_identical(berth: Berth, developer: Any) -> None:
    from portal.artifacts.models import Artifact

    _, creds, _ = developer
    pusher = client(berth, creds, "proto/app")
    body, digest = pusher.image("proto/app", "v1")

    by_tag = pusher.request("GET", "/v2/proto/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    by_digest = pusher.request("GET", f"/v2/proto/app/manifests/{digest}", headers={"Accept": OCI_MANIFEST})
    head = pusher.request("HEAD", "/v2/proto/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    berth.app.pulls.flush()

    assert by_tag.content == by_digest.content == body
    assert by_tag.headers["docker-content-digest"] == digest
    assert by_tag.headers["content-type"] == OCI_MANIFEST
    assert head.headers["content-length"] == str(len(body))
    artifact = Artifact.objects.get(repository__name="proto/app", digest=digest)
    assert artifact.pull_count == 2


def test_tag_list_is_sorted_and_paginated_with_a_link(berth: Berth, developer: Any) -> None:
    _, creds, _ = developer
    pusher = client(berth, creds, "proto/many")
    body, _ = pusher.image("proto/many", "c")
    for tag in ("a", "d", "b"):
        assert pusher.request("PUT", f"/v2/proto/many/manifests/{tag}", content=body,
                              headers={"Content-Type": OCI_MANIFEST}).status_code == 201

    first = pusher.request("GET", "/v2/proto/many/tags/list?n=2")
    second = pusher.request("GET", "/v2/proto/many/tags/list?n=2&last=b")
    everything = pusher.request("GET", "/v2/proto/many/tags/list")
    bad = pusher.request("GET", "/v2/proto/many/tags/list?n=two")

    assert first.json() == {"name": "proto/many", "tags": ["a", "b"]}
    assert first.headers["link"] == '</v2/proto/many/tags/list?n=2&last=b>; rel="next"'
    assert second.json()["tags"] == ["c", "d"]
    assert "link" not in second.headers
    assert everything.json()["tags"] == ["a", "b", "c", "d"]
    assert bad.status_code == 400


def test_referrers_list_subjects_with_an_artifact_type_filter(berth: Berth, developer: Any) -> None:
    _, creds, _ = developer
    pusher = client(berth, creds, "proto/signed")
    image, image_digest = pusher.image("proto/signed", "1")
    subject = {"mediaType": OCI_MANIFEST, "digest": image_digest, "size": len(image)}
    empty = pusher.upload("proto/signed", b"{}")
    for kind in ("application/vnd.example.signature", "application/vnd.example.sbom"):
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
                    "config": {**empty, "mediaType": "application/vnd.oci.empty.v1+json"},
                    "layers": [pusher.upload("proto/signed", kind.encode())], "subject": subject}
        pushed = pusher.request("PUT", f"/v2/proto/signed/manifests/{sha256(json.dumps(document).encode())}",
                                content=json.dumps(document).encode(), headers={"Content-Type": OCI_MANIFEST})
        assert pushed.status_code == 201, pushed.text
        assert pushed.headers["oci-subject"] == image_digest

    everything = pusher.request("GET", f"/v2/proto/signed/referrers/{image_digest}")
    filtered = pusher.request("GET", f"/v2/proto/signed/referrers/{image_digest}",
                              params={"artifactType": "application/vnd.example.sbom"})

    assert everything.headers["content-type"] == "application/vnd.oci.image.index.v1+json"
    assert sorted(m["artifactType"] for m in everything.json()["manifests"]) == [
        "application/vnd.example.sbom", "application/vnd.example.signature"]
    assert "oci-filters-applied" not in everything.headers
    assert [m["artifactType"] for m in filtered.json()["manifests"]] == ["application/vnd.example.sbom"]
    assert filtered.headers["oci-filters-applied"] == "artifactType"


def test_tag_delete_needs_delete_and_removes_only_the_tag(
    berth: Berth, developer: Any, registry_user: Any
) -> None:
    _, creds, project = developer
    maintainer, maintainer_creds = registry_user()
    from portal.projects.models import Member

    Member.objects.create(project=project, user=maintainer, role="maintainer")
    pusher = client(berth, creds, "proto/tags")
    body, digest = pusher.image("proto/tags", "keep")
    pusher.request("PUT", "/v2/proto/tags/manifests/drop", content=body, headers={"Content-Type": OCI_MANIFEST})
    deleter = client(berth, maintainer_creds, "proto/tags", actions="pull,delete")

    refused = client(berth, creds, "proto/tags", actions="pull,push,delete").request(
        "DELETE", "/v2/proto/tags/manifests/drop")
    deleted = deleter.request("DELETE", "/v2/proto/tags/manifests/drop")
    gone = deleter.request("GET", "/v2/proto/tags/manifests/drop", headers={"Accept": OCI_MANIFEST})

    assert refused.status_code == 401
    assert error_of(refused) == {"code": "UNAUTHORIZED",
                                 "message": "this token does not grant delete on repository proto/tags"}
    assert deleted.status_code == 202
    assert gone.status_code == 404
    assert error_of(gone)["code"] == "MANIFEST_UNKNOWN"
    assert deleter.request("GET", "/v2/proto/tags/tags/list").json()["tags"] == ["keep"]
    assert deleter.request("GET", f"/v2/proto/tags/manifests/{digest}",
                           headers={"Accept": OCI_MANIFEST}).status_code == 200


def test_manifest_delete_by_digest_removes_it_from_distribution_and_the_index(
    berth: Berth, developer: Any, registry_user: Any
) -> None:
    from portal.artifacts.models import Artifact
    from portal.projects.models import Member

    _, creds, project = developer
    maintainer, maintainer_creds = registry_user()
    Member.objects.create(project=project, user=maintainer, role="maintainer")
    _, digest = client(berth, creds, "proto/gone").image("proto/gone", "1")
    deleter = client(berth, maintainer_creds, "proto/gone", actions="pull,delete")

    deleted = deleter.request("DELETE", f"/v2/proto/gone/manifests/{digest}")
    fetched = deleter.request("GET", f"/v2/proto/gone/manifests/{digest}", headers={"Accept": OCI_MANIFEST})

    assert deleted.status_code == 202
    assert fetched.status_code == 404
    assert not Artifact.objects.filter(repository__name="proto/gone").exists()


def test_the_catalog_is_for_administrators(berth: Berth, developer: Any, admin_user: Any) -> None:
    from tests.fixtures.portal import PASSWORD

    _, creds, _ = developer
    client(berth, creds, "proto/listed").image("proto/listed", "1")

    admin = berth.http.get(f"{berth.url}/v2/_catalog", headers=berth.bearer(("root-admin", PASSWORD),
                                                                             "registry:catalog:*"))
    developer_view = berth.http.get(f"{berth.url}/v2/_catalog", headers=berth.bearer(creds, "registry:catalog:*"))

    assert admin.status_code == 200
    assert "proto/listed" in admin.json()["repositories"]
    assert developer_view.status_code == 401


# --- blobs and the storage behind them -------------------------------------------------------------------------


def test_blobs_come_from_disk_only_for_repositories_that_link_them(berth: Berth, developer: Any) -> None:
    _, creds, _ = developer
    pusher = client(berth, creds, "proto/blobs", "proto/other")
    data = bytes(range(256)) * 4096
    digest = pusher.upload("proto/blobs", data)["digest"]

    linked = pusher.request("GET", f"/v2/proto/blobs/blobs/{digest}")
    ranged = pusher.request("GET", f"/v2/proto/blobs/blobs/{digest}", headers={"Range": "bytes=10-19"})
    unlinked = pusher.request("GET", f"/v2/proto/other/blobs/{digest}")

    assert linked.status_code == 200
    assert linked.content == data
    assert linked.headers["docker-content-digest"] == digest
    assert ranged.status_code == 206
    assert ranged.content == data[10:20]
    assert unlinked.status_code == 404
    assert error_of(unlinked)["code"] == "BLOB_UNKNOWN"


def test_distribution_down_is_a_clear_503(berth: Berth, developer: Any) -> None:
    _, creds, _ = developer
    pusher = client(berth, creds, "proto/down")
    berth.distribution.stop()
    try:
        with berth.server_errors_expected() as provoked:
            response = pusher.request("POST", "/v2/proto/down/blobs/uploads/")
    finally:
        berth.distribution.start()

    assert provoked == ["POST /v2/proto/down/blobs/uploads/ -> 503"]
    assert response.status_code == 503
    assert error_of(response) == {"code": "UNAVAILABLE",
                                  "message": "the registry storage (distribution) is unavailable: "
                                             "ClientConnectorError"}


def test_no_v2_answer_of_the_registry_tests_was_a_server_error(berth: Berth) -> None:
    """Runs last in this module: every /v2/ answer of the session so far, provoked 5xx taken out."""
    assert list(berth.app.server_errors) == []
