"""Manifest pushes through the running Berth over raw HTTP: what distribution may not store is refused first."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest

from tests.fixtures.registry import Berth
from tests.registry.test_registry_protocol import OCI_MANIFEST, Client, client, error_of, sha256

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"
NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
BAD_DIGEST = "sha256:baddigeststring"
MAX_SIZE = 2**63 - 1


@pytest.fixture
def developer(registry_user: Any, make_project: Any) -> tuple[Any, tuple[str, str], Any]:
    user, creds = registry_user()
    project = make_project("valid", members={user: "developer"})
    return user, creds, project


@pytest.fixture
def pusher(berth: Berth, developer: Any) -> Client:
    return client(berth, developer[1], "valid/app")


@pytest.fixture
def good(pusher: Client) -> dict[str, Any]:
    """A manifest distribution would take: its config and layer are uploaded."""
    config = pusher.upload("valid/app", json.dumps({"architecture": "amd64", "os": "linux"}).encode())
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {**config, "mediaType": OCI_CONFIG},
            "layers": [pusher.upload("valid/app", b"a layer")]}


def changed(document: dict[str, Any], change: Any) -> dict[str, Any]:
    copied = copy.deepcopy(document)
    change(copied)
    return copied


def put(pusher: Client, reference: str, body: bytes, media_type: str = OCI_MANIFEST) -> Any:
    return pusher.request("PUT", f"/v2/valid/app/manifests/{reference}", content=body,
                          headers={"Content-Type": media_type})


def assert_nothing_stored(berth: Berth, body: bytes, *, withdrawn: bool = False) -> None:
    from portal.artifacts.models import Artifact
    from portal.audit.models import AuditEntry

    digest = sha256(body)
    direct = berth.http.head(f"{berth.distribution.setup.url}/v2/valid/app/manifests/{digest}",
                             auth=(berth.distribution.setup.username, berth.distribution.setup.password),
                             headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
    assert direct.status_code == 404
    assert not Artifact.objects.filter(digest=digest).exists()
    pushes = AuditEntry.objects.filter(action="push", resource__contains=digest)
    assert list(pushes.values_list("outcome", flat=True)) == (["failure"] if withdrawn else [])


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _drop(key: str) -> Any:
    return lambda document: document.pop(key)


REFUSED: list[tuple[str, Any, str, str]] = [
    ("no schemaVersion", _drop("schemaVersion"), "MANIFEST_INVALID",
     "the manifest has no schemaVersion (it must be 2)"),
    ("schemaVersion 3", _set(("schemaVersion",), 3), "MANIFEST_INVALID", "schemaVersion must be 2, not 3"),
    ("schemaVersion as text", _set(("schemaVersion",), "2"), "MANIFEST_INVALID",
     "schemaVersion must be 2, not '2'"),
    ("schema 1", _set(("schemaVersion",), 1), "MANIFEST_INVALID",
     "Docker schema 1 manifests are not accepted: push schema 2 or OCI"),
    ("malformed layer digest", _set(("layers", 0, "digest"), BAD_DIGEST), "DIGEST_INVALID",
     "layers[0].digest 'sha256:baddigeststring' is not a valid sha256 digest"),
    ("malformed config digest", _set(("config", "digest"), "sha256"), "DIGEST_INVALID",
     "config.digest 'sha256' is not a digest"),
    ("unknown digest algorithm", _set(("layers", 0, "digest"), "md5:" + "a" * 32), "DIGEST_INVALID",
     "layers[0].digest uses 'md5'; Berth accepts sha256 and sha512"),
    ("negative size", _set(("layers", 0, "size"), -1), "MANIFEST_INVALID",
     f"layers[0].size must be an integer from 0 to {MAX_SIZE}, not -1"),
    ("fractional size", _set(("layers", 0, "size"), 1.5), "MANIFEST_INVALID",
     f"layers[0].size must be an integer from 0 to {MAX_SIZE}, not 1.5"),
    ("size beyond int64", _set(("config", "size"), 2**63), "MANIFEST_INVALID",
     f"config.size must be an integer from 0 to {MAX_SIZE}, not {2**63}"),
    ("size as a boolean", _set(("layers", 0, "size"), True), "MANIFEST_INVALID",
     f"layers[0].size must be an integer from 0 to {MAX_SIZE}, not True"),
    ("subject as a string", _set(("subject",), "sha256:" + "a" * 64), "MANIFEST_INVALID",
     "subject must be a descriptor object, not a string"),
    ("layers as an object", _set(("layers",), {}), "MANIFEST_INVALID",
     "layers must be a list of descriptors, not an object"),
    ("a layer as a string", _set(("layers",), ["sha256:" + "a" * 64]), "MANIFEST_INVALID",
     "layers[0] must be a descriptor object, not a string"),
    ("no config", _drop("config"), "MANIFEST_INVALID", "the manifest has no config descriptor"),
    ("layer without a media type", lambda d: d["layers"][0].pop("mediaType"), "MANIFEST_INVALID",
     "layers[0] has no mediaType"),
    ("layer without a size", lambda d: d["layers"][0].pop("size"), "MANIFEST_INVALID", "layers[0] has no size"),
    ("config media type not one", _set(("config", "mediaType"), "config"), "MANIFEST_INVALID",
     "config.mediaType must be a media type such as 'application/octet-stream', not 'config'"),
    ("digest as a number", _set(("layers", 0, "digest"), 7), "DIGEST_INVALID",
     "layers[0].digest must be a string, not 7"),
    ("mediaType of an index", _set(("mediaType",), OCI_INDEX), "MANIFEST_INVALID",
     f"the manifest's mediaType '{OCI_INDEX}' is not its Content-Type '{OCI_MANIFEST}'"),
    ("annotations of numbers", _set(("annotations",), {"a": 1}), "MANIFEST_INVALID",
     "the annotations of the manifest must map strings to strings"),
    ("a URL not allowed", _set(("layers", 0, "urls"), ["ftp://example.com/layer"]), "MANIFEST_INVALID",
     "layers[0].urls[0] 'ftp://example.com/layer' is not an allowed URL (allowed: '^https?://', "
     "http or https, no fragment)"),
    ("data that is not the blob", _set(("layers", 0, "data"), "eA=="), "MANIFEST_INVALID",
     "layers[0].data does not match the descriptor's digest and size"),
]


@pytest.mark.parametrize(("change", "code", "message"), [case[1:] for case in REFUSED],
                         ids=[case[0] for case in REFUSED])
def test_a_manifest_distribution_must_not_store_is_refused_before_forwarding(
    berth: Berth, pusher: Client, good: dict[str, Any], change: Any, code: str, message: str
) -> None:
    body = json.dumps(changed(good, change)).encode()

    response = put(pusher, "v1", body)

    assert response.status_code == 400
    assert error_of(response) == {"code": code, "message": message}
    assert_nothing_stored(berth, body)
    assert error_of(pusher.request("GET", "/v2/valid/app/tags/list"))["code"] == "NAME_UNKNOWN"


@pytest.mark.parametrize(("body", "media_type", "message"), [
    (b"null", OCI_MANIFEST, "the manifest is not a JSON object but null"),
    (b"null", OCI_INDEX, "the manifest is not a JSON object but null"),
    (b"[]", OCI_MANIFEST, "the manifest is not a JSON object but a list"),
    (b"{", OCI_MANIFEST, "the manifest is not JSON: Expecting property name enclosed in double quotes: "
                         "line 1 column 2 (char 1)"),
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": "x"}).encode(), OCI_INDEX,
     "manifests must be a list of descriptors, not a string"),
    (json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX}).encode(), OCI_INDEX,
     "the manifest has no manifests list"),
    (json.dumps({"schemaVersion": 2, "mediaType": "text/plain"}).encode(), "text/plain",
     "'text/plain' is not a manifest media type; one of application/vnd.docker.distribution.manifest.list.v2+json, "
     "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, "
     "application/vnd.oci.image.manifest.v1+json"),
])
def test_bodies_that_are_no_manifest_are_manifest_invalid(
    berth: Berth, pusher: Client, body: bytes, media_type: str, message: str
) -> None:
    response = put(pusher, "v1", body, media_type)

    assert response.status_code == 400
    assert error_of(response) == {"code": "MANIFEST_INVALID", "message": message}
    assert_nothing_stored(berth, body)


def test_a_put_by_malformed_reference_stays_a_400(pusher: Client, good: dict[str, Any]) -> None:
    body = json.dumps(good).encode()

    by_tag = put(pusher, "bad!tag", body)
    by_digest = put(pusher, BAD_DIGEST, body)

    assert (by_tag.status_code, error_of(by_tag)["code"]) == (400, "TAG_INVALID")
    assert (by_digest.status_code, error_of(by_digest)["code"]) == (400, "DIGEST_INVALID")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("reference", ["bad!tag", "sha256:zz", BAD_DIGEST, "md5:" + "a" * 32, "-leading"])
def test_reading_a_manifest_by_a_reference_that_is_neither_tag_nor_digest_is_manifest_unknown(
    pusher: Client, method: str, reference: str
) -> None:
    response = pusher.request(method, f"/v2/valid/app/manifests/{reference}")

    assert response.status_code == 404
    if method == "GET":
        assert error_of(response) == {
            "code": "MANIFEST_UNKNOWN",
            "message": f"manifest unknown: {reference!r} is neither a valid tag nor a valid digest"}


def test_non_distributable_layers_are_accepted_without_their_blob_and_indexed(
    berth: Berth, pusher: Client, good: dict[str, Any]
) -> None:
    from portal.artifacts.models import Artifact

    foreign = b"a layer that lives elsewhere"
    document = changed(good, lambda d: d["layers"].append(
        {"mediaType": NONDISTRIBUTABLE, "digest": sha256(foreign), "size": len(foreign),
         "urls": ["https://layers.example.com/windows-base.tar.gz"]}))
    body = json.dumps(document).encode()

    response = put(pusher, "foreign", body)

    assert response.status_code == 201, response.text
    assert response.headers["docker-content-digest"] == sha256(body)
    assert pusher.request("GET", "/v2/valid/app/manifests/foreign", headers={"Accept": OCI_MANIFEST}).content == body
    assert pusher.request("HEAD", f"/v2/valid/app/blobs/{sha256(foreign)}").status_code == 404
    assert Artifact.objects.get(repository__name="valid/app", digest=sha256(body)).tag_count == 1
    assert pusher.request("GET", "/v2/valid/app/tags/list").json()["tags"] == ["foreign"]


def test_allowed_urls_follow_the_setting(berth: Berth, pusher: Client, good: dict[str, Any], settings: Any) -> None:
    settings.REGISTRY_MANIFEST_URLS_ALLOW = r"^https://layers\.example\.com/"
    document = changed(good, _set(("layers", 0, "urls"), ["https://elsewhere.example.org/layer"]))

    response = put(pusher, "v1", json.dumps(document).encode())

    assert error_of(response) == {
        "code": "MANIFEST_INVALID",
        "message": "layers[0].urls[0] 'https://elsewhere.example.org/layer' is not an allowed URL "
                   "(allowed: '^https://layers\\\\.example\\\\.com/', http or https, no fragment)"}


def test_a_manifest_the_index_cannot_take_after_distribution_stored_it_is_withdrawn(
    berth: Berth, pusher: Client, good: dict[str, Any]
) -> None:
    """Indexes nested deeper than the index walks pass validation, and distribution stores them; the
    index refuses them afterwards. The push is then refused and distribution forgets the manifest."""
    from portal.artifacts.models import Artifact
    from portal.artifacts.services import MAX_INDEX_DEPTH
    from portal.audit.models import AuditEntry

    image = json.dumps(good).encode()
    assert put(pusher, "base", image).status_code == 201
    direct = berth.direct()
    child = {"mediaType": OCI_MANIFEST, "digest": sha256(image), "size": len(image)}
    for _ in range(MAX_INDEX_DEPTH):
        nested = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}).encode()
        direct.put_manifest("valid/app", sha256(nested), nested, OCI_INDEX)
        child = {"mediaType": OCI_INDEX, "digest": sha256(nested), "size": len(nested)}
    top = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}).encode()

    response = put(pusher, "deep", top, OCI_INDEX)

    assert response.status_code == 400
    innermost = child["digest"]
    assert error_of(response)["code"] == "MANIFEST_INVALID"
    assert error_of(response)["message"].endswith(f"nests indexes more than {MAX_INDEX_DEPTH} deep")
    assert_nothing_stored(berth, top, withdrawn=True)
    failure = AuditEntry.objects.get(action="push", outcome="failure")
    assert failure.resource == f"valid/app@{sha256(top)}"
    assert failure.detail == {"digest": sha256(top), "message": error_of(response)["message"], "withdrawn": True}
    assert innermost not in set(Artifact.objects.values_list("digest", flat=True))
    assert pusher.request("GET", "/v2/valid/app/tags/list").json()["tags"] == ["base"]


def test_a_distribution_5xx_is_relayed_without_its_details(berth: Berth, developer: Any) -> None:
    """A storage fault (not the client's): a tag link distribution cannot read, on a manifest Berth has not
    indexed, answers a clean OCI error that names no path."""
    broken = client(berth, developer[1], "valid/broken")
    config = broken.upload("valid/broken", b"{}")
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {**config, "mediaType": OCI_CONFIG},
                       "layers": []}).encode()
    berth.direct().put_manifest("valid/broken", "broken", body, OCI_MANIFEST)
    tag = berth.distribution.setup.data_dir / "docker/registry/v2/repositories/valid/broken/_manifests/tags/broken"
    (tag / "current" / "link").write_text("not a digest")

    with berth.server_errors_expected() as provoked:
        response = broken.request("GET", "/v2/valid/broken/manifests/broken", headers={"Accept": OCI_MANIFEST})

    assert provoked == ["GET /v2/valid/broken/manifests/broken -> 500"]
    assert response.status_code == 500
    assert response.json() == {"errors": [{
        "code": "UNKNOWN", "message": "the registry storage (distribution) failed to answer; see Berth's log"}]}
    assert int(response.headers["content-length"]) == len(response.content)


def test_distribution_is_told_the_urls_berth_allows(settings: Any) -> None:
    from portal.registry.distribution import DistributionSetup

    settings.REGISTRY_MANIFEST_URLS_ALLOW = r"^https://layers\.example\.com/"

    config = DistributionSetup.from_settings().config()

    assert config["validation"] == {"manifests": {"urls": {"allow": [r"^https://layers\.example\.com/"]}}}


def test_a_distribution_5xx_that_blames_the_request_is_the_clients_400() -> None:
    """distribution 2.8's own answer to a manifest whose `urls` it refuses (recorded without an allow list):
    a 500 whose errors name the refused descriptor."""
    from registry_proxy.proxy import _client_fault

    recorded = (b'{"errors":[{"code":"UNKNOWN","message":"unknown error"},{"code":"UNKNOWN","message":"unknown error",'
                b'"detail":{}},{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:'
                + b"1" * 64 + b'"}]}\n')

    blamed = _client_fault(recorded)

    assert blamed is not None and blamed.status == 400
    assert json.loads(blamed.body()) == {"errors": [{"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown to registry",
                                                     "detail": "sha256:" + "1" * 64}]}
    assert _client_fault(b'{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{"Path":"/var/x"}}]}') is None
    assert _client_fault(b"<html>") is None


def _descriptor(media_type: str, content: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(content), "size": len(content), **extra}


EMPTY = _descriptor("application/vnd.oci.empty.v1+json", b"{}", data="e30=")
ACCEPTED: dict[str, tuple[dict[str, Any], str]] = {
    "docker image": ({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                      "config": _descriptor("application/vnd.docker.container.image.v1+json", b"c"),
                      "layers": [_descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", b"l")]},
                     "application/vnd.docker.distribution.manifest.v2+json"),
    "docker list": ({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                     "manifests": [_descriptor("application/vnd.docker.distribution.manifest.v2+json", b"m",
                                               platform={"os": "linux", "architecture": "arm64"})]},
                    "application/vnd.docker.distribution.manifest.list.v2+json"),
    "empty-config artifact with a subject": (
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sbom+json",
         "config": EMPTY, "layers": [EMPTY], "subject": _descriptor(OCI_MANIFEST, b"s"),
         "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}}, OCI_MANIFEST),
    "helm chart": ({"schemaVersion": 2, "config": _descriptor("application/vnd.cncf.helm.config.v1+json", b"{}"),
                    "layers": [_descriptor("application/vnd.cncf.helm.chart.content.v1.tar+gzip", b"t")]},
                   OCI_MANIFEST),
    "no layers": ({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": EMPTY}, OCI_MANIFEST),
    "index with a subject and custom fields": (
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [], "subject": _descriptor(OCI_MANIFEST, b"s"),
         "x-custom": {"any": ["thing"]}}, OCI_INDEX),
    "sha512 descriptors": ({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                            "config": {**EMPTY, "digest": "sha512:" + hashlib.sha512(b"{}").hexdigest()},
                            "layers": []}, OCI_MANIFEST + "; charset=utf-8"),
}


@pytest.mark.parametrize(("document", "content_type"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_every_kind_of_manifest_the_spec_allows_passes(document: dict[str, Any], content_type: str) -> None:
    import re

    from portal.artifacts.validation import validate_manifest

    validate_manifest(json.dumps(document).encode(), content_type, re.compile(r"^https?://"))
