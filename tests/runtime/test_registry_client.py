"""Pulls from a real distribution registry: formats, platforms, auth, progress, resume, integrity."""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import runtime_agent.images.unpack as unpack_module
from runtime_agent.images import (
    AuthenticationFailed,
    DigestMismatch,
    ImageStore,
    ManifestUnknown,
)
from runtime_agent.images.manifest import MANIFEST_TYPES
from runtime_agent.images.registry import Challenge, RegistryClient, parse_www_authenticate
from tests.support.auth_gateway import AuthGateway
from tests.support.distribution import Distribution
from tests.support.images import File, build_busybox_layout, build_multilayer_layout, host_platform

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: mknod whiteouts while unpacking"
)

BIG = 8 << 20


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def pushed(distribution: Distribution, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """References of images pushed once for this module, by what they are."""
    layouts = tmp_path_factory.mktemp("pushed-layouts")
    multiplatform = build_busybox_layout(layouts / "mp", platforms=["linux/amd64", "linux/arm64"])
    multilayer = build_multilayer_layout(layouts / "ml")
    zstd = build_multilayer_layout(layouts / "zstd", compression="zstd")
    # Incompressible, so the layer is big on the wire and a download can be cut in the middle.
    noise = random.Random(4).randbytes(BIG)
    big = build_busybox_layout(layouts / "big", extra_layers=[[File("data/noise", noise)]])
    return {
        "multiplatform": distribution.push_layout(multiplatform, "proj/busybox", "1.0"),
        "docker_list": distribution.push_layout(
            multiplatform, "proj/busybox", "list", docker_v2s2=True
        ),
        "v2s2": distribution.push_layout(multilayer, "proj/multilayer", "v2s2", docker_v2s2=True),
        "zstd": distribution.push_layout(zstd, "proj/multilayer", "zstd"),
        "big": distribution.push_layout(big, "proj/big", "1"),
        "noise_sha256": hashlib.sha256(noise).hexdigest(),
        "big_layer_size": str(_top_layer(big)["size"]),
        "big_layer_digest": str(_top_layer(big)["digest"]),
    }


def _top_layer(layout: Path) -> dict[str, object]:
    index = json.loads((layout / "index.json").read_text())
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"][7:]).read_text())
    return manifest["layers"][-1]


def test_pull_of_an_index_gives_the_hosts_platform(
    image_store: ImageStore, pushed: dict[str, str]
) -> None:
    image = image_store.pull(pushed["multiplatform"])

    assert image.config["architecture"] == host_platform().split("/")[1]
    assert image.repo_tags == [pushed["multiplatform"]]
    assert image.repo_digests == [pushed["multiplatform"].rsplit(":", 1)[0] + "@" + image.digest]
    assert image.digest != image.manifest_digest
    assert (image.layer_dirs[0] / "bin" / "busybox").is_file()
    assert image_store.get(pushed["multiplatform"]).id == image.id


def test_pull_of_another_platform_shares_the_layers(
    image_store: ImageStore, pushed: dict[str, str]
) -> None:
    native = image_store.pull(pushed["multiplatform"])
    arm = image_store.pull(pushed["multiplatform"], platform="linux/arm64")

    assert arm.config["architecture"] == "arm64"
    assert arm.layer_dirs == native.layer_dirs


def test_pull_of_a_docker_schema2_image_converts_whiteouts(
    image_store: ImageStore, pushed: dict[str, str]
) -> None:
    image = image_store.pull(pushed["v2s2"])

    assert len(image.layer_dirs) == 3
    assert (image.layer_dirs[-1] / "etc" / "motd").lstat().st_rdev == os.makedev(0, 0)
    assert os.getxattr(image.layer_dirs[-1] / "opt" / "data", "trusted.overlay.opaque") == b"y"


def test_pull_of_a_docker_manifest_list_picks_the_platform(
    image_store: ImageStore, pushed: dict[str, str]
) -> None:
    native = image_store.pull(pushed["docker_list"])
    arm = image_store.pull(pushed["docker_list"], platform="linux/arm64")

    blob = image_store.read_blob(native.digest)
    assert (
        json.loads(blob)["mediaType"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    )
    assert native.config["architecture"] == host_platform().split("/")[1]
    assert arm.config["architecture"] == "arm64"


def test_pull_of_zstd_layers(image_store: ImageStore, pushed: dict[str, str]) -> None:
    image = image_store.pull(pushed["zstd"])

    assert (image.layer_dirs[-1] / "etc" / "added").read_text() == "added by the top layer\n"


def test_pull_by_digest_records_no_tag(image_store: ImageStore, pushed: dict[str, str]) -> None:
    tagged = image_store.pull(pushed["multiplatform"])
    name = pushed["multiplatform"].rsplit(":", 1)[0]

    image = image_store.pull(f"{name}@{tagged.digest}")

    assert image.id == tagged.id
    assert image_store.get(f"{name}@{tagged.digest}").id == image.id


def test_pull_of_an_unknown_tag_says_so(
    image_store: ImageStore, distribution: Distribution
) -> None:
    with pytest.raises(ManifestUnknown) as caught:
        image_store.pull(f"{distribution.host}/proj/busybox:missing")

    assert str(caught.value) == (
        f"{distribution.host}: manifest proj/busybox:missing: MANIFEST_UNKNOWN: manifest unknown"
    )


def test_progress_reports_every_layer_up_to_its_size(
    image_store: ImageStore, pushed: dict[str, str]
) -> None:
    events: list[tuple[str, int, int]] = []

    image = image_store.pull(pushed["v2s2"], progress=lambda *event: events.append(event))

    last = {digest: (done, total) for digest, done, total in events}
    assert len(last) == len(image.layers)
    assert all(done == total for done, total in last.values())


def test_an_interrupted_pull_resumes_where_it_stopped(
    image_store: ImageStore, pushed: dict[str, str]
) -> None:
    size = int(pushed["big_layer_size"])

    def interrupt(digest: str, done: int, total: int) -> None:
        if total == size and done > 3 << 20:
            raise Interrupted

    with pytest.raises(Interrupted):
        image_store.pull(pushed["big"], progress=interrupt)
    # Other layers stopped too (cancelled); each keeps what it had.
    [partial] = image_store.partial.glob(f"*-{pushed['big_layer_digest'][7:]}")
    kept = partial.stat().st_size
    assert kept > 3 << 20
    assert os.listdir(image_store.tmp) == []
    events: list[tuple[str, int, int]] = []

    image = image_store.pull(pushed["big"], progress=lambda *event: events.append(event))

    big = [(done, total) for _, done, total in events if total == size]
    assert big[0] == (kept, size)  # the first report: the bytes already there, not fetched again
    assert big[-1] == (size, size)
    data = (image.layer_dirs[-1] / "data" / "noise").read_bytes()
    assert hashlib.sha256(data).hexdigest() == pushed["noise_sha256"]
    assert os.listdir(image_store.partial) == []


def test_a_corrupted_blob_in_the_registry_is_refused_and_not_kept(
    image_store: ImageStore, distribution: Distribution, tmp_path: Path
) -> None:
    layout = build_busybox_layout(tmp_path / "corrupt", extra_layers=[[File("x", b"x")]])
    reference = distribution.push_layout(layout, "proj/corrupt", "1")
    with RegistryClient(distribution.host) as client:
        manifest = json.loads(client.get_manifest("proj/corrupt", "1")[0])
    layer = manifest["layers"][-1]
    blob = next((distribution.root / "data").rglob(f"{layer['digest'][7:]}/data"))
    data = bytearray(blob.read_bytes())
    data[4] ^= 0xFF  # the gzip header's mtime: still valid gzip, but not the same bytes
    blob.write_bytes(bytes(data))

    with pytest.raises(DigestMismatch) as caught:
        image_store.pull(reference)

    assert str(caught.value).startswith(
        f"layer {layer['digest']}: got {layer['size']} bytes with digest sha256:"
    )
    # Only the bad layer's bytes go; a layer cancelled beside it keeps its bytes for next time.
    assert list(image_store.partial.glob(f"*-{layer['digest'][7:]}")) == []
    assert os.listdir(image_store.tmp) == []
    assert image_store.list() == []


def test_concurrent_pulls_download_and_unpack_each_layer_once(
    tmp_path: Path, pushed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    real_unpack = unpack_module.unpack_layer

    def counting_unpack(chunks, dest):  # type: ignore[no-untyped-def]
        calls.append(dest)
        time.sleep(0.1)
        return real_unpack(chunks, dest)

    monkeypatch.setattr(unpack_module, "unpack_layer", counting_unpack)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(ImageStore(tmp_path).pull(pushed["v2s2"])))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 3
    assert len(calls) == 3


# -- authentication ------------------------------------------------------------------------


@pytest.fixture
def gateway(distribution: Distribution, request: pytest.FixtureRequest) -> Iterator[AuthGateway]:
    scheme, anonymous = request.param
    with AuthGateway(
        distribution.host, scheme=scheme, users={"alice": "s3cret"}, anonymous_pull=anonymous
    ) as front:
        yield front


def _through(gateway: AuthGateway, reference: str) -> str:
    return gateway.host + "/" + reference.split("/", 1)[1]


@pytest.mark.parametrize("gateway", [("bearer", True)], indirect=True)
def test_anonymous_bearer_token_flow(
    image_store: ImageStore, gateway: AuthGateway, pushed: dict[str, str]
) -> None:
    image = image_store.pull(_through(gateway, pushed["multiplatform"]))

    assert image.layer_dirs[0].is_dir()
    [token_request] = gateway.token_requests  # one token, reused for every request of the scope
    assert token_request.user is None
    assert token_request.service == "berth-test-registry"
    assert token_request.scope == "repository:proj/busybox:pull"


@pytest.mark.parametrize("gateway", [("bearer", False)], indirect=True)
def test_bearer_token_flow_with_credentials(
    image_store: ImageStore, gateway: AuthGateway, pushed: dict[str, str]
) -> None:
    image = image_store.pull(
        _through(gateway, pushed["multiplatform"]), credentials=("alice", "s3cret")
    )

    assert image.layer_dirs[0].is_dir()
    assert [r.user for r in gateway.token_requests] == ["alice"]


@pytest.mark.parametrize("gateway", [("bearer", False)], indirect=True)
def test_bearer_with_a_wrong_password_fails_clearly(
    image_store: ImageStore, gateway: AuthGateway, pushed: dict[str, str]
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        image_store.pull(_through(gateway, pushed["multiplatform"]), credentials=("alice", "wrong"))

    assert str(caught.value) == (
        f"token service http://{gateway.host}/token refused user 'alice': "
        "UNAUTHORIZED: invalid username or password"
    )
    assert image_store.list() == []


@pytest.mark.parametrize("gateway", [("bearer", False)], indirect=True)
def test_a_pre_issued_token_is_presented_as_it_is(
    image_store: ImageStore, gateway: AuthGateway, pushed: dict[str, str]
) -> None:
    issued = httpx.get(
        f"http://{gateway.host}/token",
        params={"scope": "repository:proj/busybox:pull"},
        auth=("alice", "s3cret"),
    ).json()["token"]

    image = image_store.pull(_through(gateway, pushed["multiplatform"]), token=issued)

    assert image.layer_dirs[0].is_dir()
    assert len(gateway.token_requests) == 1  # ours: the client asked for none
    with pytest.raises(AuthenticationFailed) as caught:
        image_store.pull(_through(gateway, pushed["v2s2"]), token="forged")
    assert str(caught.value) == (
        f"{gateway.host}: the given token was refused for proj/multilayer (expired or not granted): "
        "UNAUTHORIZED: authentication required"
    )


@pytest.mark.parametrize("gateway", [("basic", False)], indirect=True)
def test_basic_auth(image_store: ImageStore, gateway: AuthGateway, pushed: dict[str, str]) -> None:
    image = image_store.pull(_through(gateway, pushed["v2s2"]), credentials=("alice", "s3cret"))

    assert len(image.layer_dirs) == 3
    assert gateway.token_requests == []


@pytest.mark.parametrize("gateway", [("basic", False)], indirect=True)
def test_basic_auth_without_credentials_fails_clearly(
    image_store: ImageStore, gateway: AuthGateway, pushed: dict[str, str]
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        image_store.pull(_through(gateway, pushed["v2s2"]))

    assert str(caught.value) == f"{gateway.host} requires a username and password"


# -- pure logic ----------------------------------------------------------------------------


def test_www_authenticate_headers_parse() -> None:
    header = (
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:a/b:pull,push", Basic realm="say \\"hi\\", please"'
    )

    assert parse_www_authenticate(header) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.example.com/token",
                "service": "registry.example.com",
                "scope": "repository:a/b:pull,push",
            },
        ),
        Challenge("basic", {"realm": 'say "hi", please'}),
    ]


def test_remote_registries_use_https_and_loopback_or_insecure_ones_http() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "no"}]})

    for registry, insecure in (
        ("registry.example.com", False),
        ("registry.example.com:5000", True),
        ("localhost:5000", False),
    ):
        with (
            RegistryClient(
                registry, insecure=insecure, transport=httpx.MockTransport(handler)
            ) as client,
            pytest.raises(ManifestUnknown),
        ):
            client.get_manifest("a", "latest")

    assert seen == [
        "https://registry.example.com/v2/a/manifests/latest",
        "http://registry.example.com:5000/v2/a/manifests/latest",
        "http://localhost:5000/v2/a/manifests/latest",
    ]


def test_a_manifest_that_does_not_match_the_asked_digest_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{}", headers={"Content-Type": MANIFEST_TYPES[0]})

    digest = "sha256:" + "1" * 64
    client = RegistryClient("localhost:1", transport=httpx.MockTransport(handler))
    with client, pytest.raises(DigestMismatch) as caught:
        client.get_manifest("a", digest)

    assert str(caught.value) == (
        f"manifest a@{digest}: content has digest sha256:{hashlib.sha256(b'{}').hexdigest()}, "
        f"expected {digest}"
    )


def test_a_registry_that_ignores_range_gets_the_whole_blob_again(
    tmp_path: Path, busybox_layout: Path
) -> None:
    blobs = busybox_layout / "blobs" / "sha256"
    index = json.loads((busybox_layout / "index.json").read_text())
    top = index["manifests"][0]
    ranges: list[str | None] = []

    def registry(request: httpx.Request) -> httpx.Response:
        kind, reference = request.url.path.split("/")[-2:]
        if kind == "manifests":
            digest = top["digest"] if reference == "latest" else reference
            return httpx.Response(
                200,
                content=(blobs / digest[7:]).read_bytes(),
                headers={"Content-Type": top["mediaType"]},
            )
        ranges.append(request.headers.get("Range"))
        return httpx.Response(200, stream=_Chunked((blobs / reference[7:]).read_bytes()))

    store = ImageStore(tmp_path / "state", transport=httpx.MockTransport(registry))
    layer = _top_layer(busybox_layout)
    config = json.loads(
        (
            blobs / json.loads((blobs / top["digest"][7:]).read_bytes())["config"]["digest"][7:]
        ).read_bytes()
    )
    partial = store.partial / f"{config['rootfs']['diff_ids'][-1][7:]}-{str(layer['digest'])[7:]}"
    partial.write_bytes(b"\xff" * 1000)  # stale bytes that must not be replayed

    image = store.pull("localhost:5000/mock/busybox")

    assert (image.layer_dirs[0] / "bin" / "busybox").is_file()
    assert ranges == [None, "bytes=1000-"]  # config, then the layer from where it stopped
    assert not partial.exists()


class _Chunked(httpx.SyncByteStream):
    """A body that really streams, as a network one does (a `content=` body is pre-read)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self.data), 1 << 16):
            yield self.data[start : start + (1 << 16)]
