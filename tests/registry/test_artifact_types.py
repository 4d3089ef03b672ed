"""Every artifact type through the running Berth with oras's Python client: OCI artifacts with custom config
types, empty configs and `data`, a Helm chart pushed as `helm push` does, signatures and SBOMs attached with
`subject`, an index with a subject; each browsable with its kind, referrers as accessories of their subject,
and only images offered to run."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oras.oci
import oras.provider
import pytest
from rest_framework.test import APIClient

from portal.audit.models import AuditEntry
from portal.fleet.models import Container
from portal.rbac.principals import UserPrincipal
from tests.fixtures.registry import Berth

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
COSIGN = "application/vnd.dev.cosign.artifact.sig.v1+json"
NOTATION = "application/vnd.cncf.notary.signature"
SPDX = "application/spdx+json"
CYCLONEDX = "application/vnd.cyclonedx+json"
BASE = "/api/v1/projects/kinds/repositories"
REPOSITORIES = ("kinds/app", "kinds/charts/demo", "kinds/charts/web", "kinds/notes", "kinds/markers")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Oras:
    """oras's Python client against Berth, signed in through Berth's token service."""

    registry: oras.provider.Registry
    host: str
    workdir: Path

    def ref(self, repository: str, reference: str = "") -> str:
        separator = "@" if reference.startswith("sha256:") else ":"
        return f"{self.host}/{repository}{separator + reference if reference else ''}"

    def blob(self, repository: str, content: bytes, media_type: str, **extra: Any) -> dict[str, Any]:
        path = self.workdir / hashlib.sha256(content).hexdigest()
        path.write_bytes(content)
        descriptor = {"mediaType": media_type, "digest": sha256(content), "size": len(content), **extra}
        response = self.registry.upload_blob(str(path), self.ref(repository), descriptor)
        assert response.status_code in (200, 201), response.text
        return descriptor

    def empty_config(self, repository: str) -> dict[str, Any]:
        # The spec's empty descriptor carries its two bytes inline as `data`.
        return self.blob(repository, b"{}", EMPTY_TYPE, data="e30=")

    def manifest(self, repository: str, reference: str, document: dict[str, Any]) -> tuple[bytes, str]:
        """PUT with oras's own manifest upload (it validates the document first); returns (bytes, digest)."""
        response = self.registry.upload_manifest(document, self.registry.get_container(self.ref(repository, reference)))
        assert response.status_code == 201, response.text
        body = response.request.body
        assert isinstance(body, bytes)
        assert response.headers["Docker-Content-Digest"] == sha256(body)
        return body, sha256(body)

    def index(self, repository: str, reference: str, document: dict[str, Any]) -> tuple[bytes, str]:
        body = json.dumps(document).encode()
        response = self.registry.do_request(f"http://{self.ref(repository).replace(repository, '')}v2/{repository}"
                                            f"/manifests/{reference}", "PUT", data=body,
                                            headers={"Content-Type": INDEX})
        assert response.status_code == 201, response.text
        return body, sha256(body)

    def discover(self, repository: str, digest: str, artifact_type: str = "") -> list[dict[str, Any]]:
        query = f"?artifactType={artifact_type}" if artifact_type else ""
        response = self.registry.do_request(f"http://{self.host}/v2/{repository}/referrers/{digest}{query}", "GET")
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == INDEX
        return list(response.json()["manifests"])

    def fetch(self, repository: str, reference: str) -> bytes:
        response = self.registry.do_request(f"http://{self.host}/v2/{repository}/manifests/{reference}", "GET",
                                            headers={"Accept": f"{MANIFEST}, {INDEX}"})
        assert response.status_code == 200, response.text
        return response.content


@dataclass
class Pusher:
    credentials: tuple[str, str]
    oras: Oras
    browse: APIClient

    def push_image(self, berth: Berth, image_layouts: Any) -> dict[str, Any]:
        """busybox, pushed with skopeo as kinds/app:1.0; returns its descriptor's digest and size."""
        berth.push(image_layouts.single, "kinds/app:1.0", self.credentials)
        body = self.oras.fetch("kinds/app", "1.0")
        return {"mediaType": MANIFEST, "digest": sha256(body), "size": len(body)}


@pytest.fixture
def pusher(berth: Berth, registry_user: Any, make_project: Any, tmp_path: Path) -> Pusher:
    """A developer of project `kinds`, with oras signed in as them and the browse API."""
    user, credentials = registry_user()
    make_project("kinds", members={user: "developer"})
    registry = oras.provider.Registry(hostname=berth.host, insecure=True)
    registry.auth.set_basic_auth(*credentials)
    # oras-py asks the token service for the scope of each challenge alone, so the pull token of a blob's HEAD
    # would meet the upload's POST; like oras-go, it starts with pull and push on what it pushes to.
    registry.auth.set_token_auth(berth.token(credentials, *(f"repository:{name}:pull,push" for name in REPOSITORIES)))
    browse = APIClient()
    browse.force_authenticate(user=UserPrincipal(user))
    workdir = tmp_path / "blobs"
    workdir.mkdir()
    return Pusher(credentials, Oras(registry, berth.host, workdir), browse)


def helm_chart() -> bytes:
    """A chart archive as `helm package` writes one: `<name>/Chart.yaml` and a template, gzipped."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, text in {"demo/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
                           "demo/templates/configmap.yaml": "kind: ConfigMap\napiVersion: v1\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(text)
            archive.addfile(info, io.BytesIO(text.encode()))
    return out.getvalue()


def test_a_helm_chart_pushed_as_helm_does_comes_back_byte_identical_and_browses_as_a_chart(
        berth: Berth, pusher: Pusher) -> None:
    client, browse = pusher.oras, pusher.browse
    chart = helm_chart()
    config = json.dumps({"name": "demo", "version": "0.1.0", "apiVersion": "v2"}).encode()
    document = {
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": client.blob("kinds/charts/demo", config, HELM_CONFIG),
        "layers": [client.blob("kinds/charts/demo", chart, HELM_CHART)],
        "annotations": {"org.opencontainers.image.title": "demo", "org.opencontainers.image.version": "0.1.0"},
    }
    body, digest = client.manifest("kinds/charts/demo", "0.1.0", document)

    pulled = client.registry.get_manifest(client.ref("kinds/charts/demo", "0.1.0"))
    saved = client.registry.download_blob(client.ref("kinds/charts/demo", "0.1.0"), pulled["layers"][0]["digest"],
                                          str(client.workdir / "pulled.tgz"))
    [listed] = browse.get(f"{BASE}/charts%2Fdemo/artifacts").json()["results"]
    detail = browse.get(f"{BASE}/charts%2Fdemo/artifacts/0.1.0").json()

    assert client.fetch("kinds/charts/demo", digest) == body
    assert Path(saved).read_bytes() == chart
    assert (listed["digest"], listed["kind"], listed["artifact_type"], listed["runnable"]) == (
        digest, "helm_chart", HELM_CONFIG, False)
    assert detail["kind"] == "helm_chart" and detail["runnable"] is False
    # Pulled with helm, not docker.
    assert listed["pull_command"] == f"helm pull oci://{berth.host}/kinds/charts/demo@{digest}"
    assert detail["tags"][0]["pull_command"] == f"helm pull oci://{berth.host}/kinds/charts/demo --version 0.1.0"
    assert [t["pull_command"] for t in browse.get(f"{BASE}/charts%2Fdemo/tags").json()["results"]] == [
        f"helm pull oci://{berth.host}/kinds/charts/demo --version 0.1.0"]
    assert detail["annotations"]["org.opencontainers.image.version"] == "0.1.0"
    assert [layer["media_type"] for layer in detail["layers"]] == [HELM_CHART]
    assert AuditEntry.objects.get(action="push", resource="kinds/charts/demo:0.1.0").detail["kind"] == "helm_chart"
    assert browse.get(f"{BASE}/charts%2Fdemo/artifacts?kind=helm_chart").json()["count"] == 1
    assert browse.get(f"{BASE}/charts%2Fdemo/artifacts?kind=image").json()["count"] == 0
    refused = browse.get(f"{BASE}/charts%2Fdemo/artifacts?kind=chart")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == (
        "kind: Select a valid choice. chart is not one of the available choices.")


def test_oras_push_and_pull_of_an_artifact_with_a_custom_config_type(
        berth: Berth, pusher: Pusher, tmp_path: Path, monkeypatch: Any) -> None:
    client, browse = pusher.oras, pusher.browse
    monkeypatch.chdir(tmp_path)
    Path("notes.txt").write_text("release notes\n")
    Path("config.json").write_text('{"tool": "berth-tests"}')

    client.registry.push(client.ref("kinds/notes", "v1"), files=["notes.txt:text/plain"],
                         manifest_config="config.json:application/vnd.example.notes.config.v1+json",
                         manifest_annotations={"org.example.release": "1"}, quiet=True)
    files = client.registry.pull(client.ref("kinds/notes", "v1"), outdir=str(tmp_path / "out"))
    [listed] = browse.get(f"{BASE}/notes/artifacts").json()["results"]

    assert [Path(f).read_text() for f in files] == ["release notes\n"]
    assert (listed["kind"], listed["artifact_type"], listed["runnable"], listed["is_index"]) == (
        "artifact", "application/vnd.example.notes.config.v1+json", False, False)
    assert browse.get(f"{BASE}/notes/artifacts/v1").json()["annotations"] == {"org.example.release": "1"}
    assert listed["tags"][0]["pull_command"] == f"oras pull {berth.host}/kinds/notes:v1"


def test_an_empty_config_artifact_without_layers_with_custom_fields_and_data_is_browsable(
        berth: Berth, pusher: Pusher) -> None:
    client, browse = pusher.oras, pusher.browse
    document = {
        "schemaVersion": 2, "mediaType": MANIFEST, "artifactType": "application/vnd.example.marker.v1",
        "config": client.empty_config("kinds/markers"), "layers": [],
        "annotations": {"org.opencontainers.image.created": "2026-01-02T03:04:05Z"},
        "org.example.custom": {"kept": ["as", "pushed"]},
    }
    body, digest = client.manifest("kinds/markers", "m1", document)

    detail = browse.get(f"{BASE}/markers/artifacts/m1").json()

    assert client.fetch("kinds/markers", "m1") == body
    assert (detail["digest"], detail["kind"], detail["artifact_type"], detail["runnable"]) == (
        digest, "artifact", "application/vnd.example.marker.v1", False)
    assert detail["layers"] == [] and detail["config"] is None
    assert detail["manifest"]["org.example.custom"] == {"kept": ["as", "pushed"]}
    assert detail["manifest"]["config"]["data"] == "e30="
    assert detail["size"] == len(body) + 2


def test_signatures_and_sboms_attached_with_a_subject_are_accessories_of_the_image(
        berth: Berth, pusher: Pusher, image_layouts: Any) -> None:
    client, browse = pusher.oras, pusher.browse
    subject = image = pusher.push_image(berth, image_layouts)
    repository = "kinds/app"

    def attach(artifact_type: str, layer: bytes, layer_type: str, **annotations: str) -> str:
        document = {"schemaVersion": 2, "mediaType": MANIFEST, "artifactType": artifact_type,
                    "config": client.empty_config(repository),
                    "layers": [client.blob(repository, layer, layer_type)], "subject": subject}
        if annotations:
            document["annotations"] = annotations
        body = json.dumps(document).encode()
        return client.manifest(repository, sha256(body), document)[1]

    cosign = attach(COSIGN, b'{"critical": {}}', "application/vnd.dev.cosign.simplesigning.v1+json",
                    **{"dev.cosignproject.cosign/signature": "MEUCIQ=="})
    notation = attach(NOTATION, b"eyJhbGciOiJQUzI1NiJ9", "application/jose+json")
    spdx = attach(SPDX, b'{"spdxVersion": "SPDX-2.3"}', SPDX)
    # oras 1.0's `attach`, before artifactType: the type is the config's media type, pushed with oras's push.
    sbom_config = client.workdir / "bom.json"
    sbom_config.write_text('{"bomFormat": "CycloneDX"}')
    client.registry.push(client.ref(repository, "sbom-cdx"), files=[f"{sbom_config}:{CYCLONEDX}"],
                         manifest_config=f"{sbom_config}:{CYCLONEDX}", disable_path_validation=True,
                         subject=oras.oci.Subject(**subject), quiet=True)
    cyclonedx = sha256(client.fetch(repository, "sbom-cdx"))

    discovered = client.discover(repository, image["digest"])
    only_signatures = client.discover(repository, image["digest"], NOTATION)
    listed = browse.get(f"{BASE}/app/artifacts").json()["results"]
    detail = browse.get(f"{BASE}/app/artifacts/1.0").json()
    signature = browse.get(f"{BASE}/app/artifacts/{cosign}").json()

    assert {d["digest"]: d["artifactType"] for d in discovered} == {
        cosign: COSIGN, notation: NOTATION, spdx: SPDX, cyclonedx: CYCLONEDX}
    assert [d["digest"] for d in only_signatures] == [notation]
    # Accessories sit under their subject; the subject alone is listed, and it runs.
    assert [(a["digest"], a["kind"], a["runnable"]) for a in listed] == [(image["digest"], "image", True)]
    accessories = {a["digest"]: (a["kind"], a["artifact_type"]) for a in listed[0]["accessories"]}
    assert accessories == {cosign: ("signature", COSIGN), notation: ("signature", NOTATION),
                           spdx: ("sbom", SPDX), cyclonedx: ("sbom", CYCLONEDX)}
    assert listed[0]["accessory_count"] == 4
    assert {a["digest"] for a in detail["accessories"]} == set(accessories) and detail["accessory_count"] == 4
    assert all(a["size"] > 0 and a["pushed_at"] for a in detail["accessories"])
    assert (signature["kind"], signature["runnable"], signature["subject_digest"]) == ("signature", False,
                                                                                       image["digest"])
    assert signature["annotations"] == {"dev.cosignproject.cosign/signature": "MEUCIQ=="}


def test_an_index_with_a_subject_is_an_accessory_and_takes_its_childrens_kind(
        berth: Berth, pusher: Pusher, image_layouts: Any) -> None:
    client, browse = pusher.oras, pusher.browse
    image = pusher.push_image(berth, image_layouts)
    repository = "kinds/app"
    children = []
    for name in ("spdx-amd64", "spdx-arm64"):
        document = {"schemaVersion": 2, "mediaType": MANIFEST, "artifactType": SPDX,
                    "config": client.empty_config(repository),
                    "layers": [client.blob(repository, json.dumps({"name": name}).encode(), SPDX)]}
        body, digest = client.manifest(repository, name, document)
        children.append({"mediaType": MANIFEST, "digest": digest, "size": len(body), "artifactType": SPDX})
    _, bundle = client.index(repository, "sboms", {
        "schemaVersion": 2, "mediaType": INDEX, "manifests": children,
        "subject": image,
        "annotations": {"org.example.bundle": "sboms"}})

    discovered = client.discover(repository, image["digest"])
    [listed] = [a for a in browse.get(f"{BASE}/app/artifacts").json()["results"] if a["digest"] == image["digest"]]
    detail = browse.get(f"{BASE}/app/artifacts/{bundle}").json()

    assert [(d["digest"], d["mediaType"]) for d in discovered] == [(bundle, INDEX)]
    assert [(a["digest"], a["kind"]) for a in listed["accessories"]] == [(bundle, "sbom")]
    assert (detail["kind"], detail["is_index"], detail["runnable"]) == ("sbom", True, False)
    assert [(c["digest"], c["kind"]) for c in detail["children"]] == [(c["digest"], "sbom") for c in children]


def test_a_run_on_a_host_of_what_is_not_an_image_is_refused(
        berth: Berth, pusher: Pusher) -> None:
    client, browse = pusher.oras, pusher.browse
    document = {"schemaVersion": 2, "mediaType": MANIFEST,
                "config": client.blob("kinds/charts/web", b'{"name": "web"}', HELM_CONFIG),
                "layers": [client.blob("kinds/charts/web", helm_chart(), HELM_CHART)]}
    _, digest = client.manifest("kinds/charts/web", "1.0.0", document)

    response = browse.post("/api/v1/projects/kinds/containers", {"repository": "charts/web", "reference": "1.0.0"},
                           format="json")

    assert response.status_code == 409, response.content
    [error] = response.json()["errors"]
    assert error["code"] == "artifact_not_runnable"
    assert error["message"] == (f"artifact {digest} cannot run on a host: it is of kind Helm chart ({HELM_CONFIG}), "
                                "and only images and image indexes run")
    assert not Container.objects.exists()
