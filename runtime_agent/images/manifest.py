"""OCI and Docker schema 2 manifests and indexes: parsing, validation and platform choice."""

from __future__ import annotations

import hashlib
import json
import platform as _platform
from dataclasses import dataclass, field
from typing import Any

from .errors import DigestMismatch, ImageError, PlatformNotFound, UnsupportedImage
from .reference import check_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
LAYER_TYPES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
)
# A manifest or config larger than this is an attack, not an image.
MAX_METADATA_SIZE = 8 << 20

# platform.machine() → GOARCH (and variant), as the OCI image spec names architectures.
_GOARCH = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", None),
    "arm64": ("arm64", None),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", None),
    "i686": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
}


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def host(cls) -> Platform:
        machine = _platform.machine()
        arch, variant = _GOARCH.get(machine, (machine, None))
        return cls("linux", arch, variant)

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ImageError(f"invalid platform {text!r}: use OS/ARCH[/VARIANT], e.g. linux/arm64")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def matches(self, other: dict[str, Any]) -> bool:
        if other.get("os") != self.os or other.get("architecture") != self.architecture:
            return False
        variant = other.get("variant")
        # arm64 images usually omit "v8"; only a stated, differing variant disqualifies.
        return not (self.variant and variant and variant != self.variant)

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any, what: str) -> Descriptor:
        if not isinstance(data, dict):
            raise ImageError(f"{what}: descriptor is not an object")
        digest, size = data.get("digest"), data.get("size")
        if not isinstance(digest, str) or not isinstance(size, int) or size < 0:
            raise ImageError(f"{what}: descriptor needs a digest and a size")
        check_digest(digest)
        return cls(
            media_type=str(data.get("mediaType", "")),
            digest=digest,
            size=size,
            platform=data.get("platform") if isinstance(data.get("platform"), dict) else None,
            annotations=dict(data.get("annotations") or {}),
            urls=tuple(data.get("urls") or ()),
        )

    @property
    def hex(self) -> str:
        return self.digest.split(":", 1)[1]


@dataclass(frozen=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]

    def select(self, want: Platform) -> Descriptor:
        for descriptor in self.manifests:
            if descriptor.platform is not None and want.matches(descriptor.platform):
                return descriptor
        offered = ", ".join(
            str(
                Platform(
                    d.platform.get("os", "?"),
                    d.platform.get("architecture", "?"),
                    d.platform.get("variant"),
                )
            )
            for d in self.manifests
            if d.platform is not None
        )
        raise PlatformNotFound(
            f"no image for platform {want} in the index (it offers: {offered or 'none'})"
        )


@dataclass(frozen=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


def verify_blob(data: bytes, descriptor: Descriptor, what: str) -> None:
    if len(data) != descriptor.size:
        raise DigestMismatch(
            f"{what} {descriptor.digest}: size {len(data)}, expected {descriptor.size}"
        )
    actual = sha256_digest(data)
    if actual != descriptor.digest:
        raise DigestMismatch(f"{what}: digest {actual}, expected {descriptor.digest}")


def parse(data: bytes, media_type: str | None = None) -> Index | Manifest:
    """Parse a manifest or an index; the media type comes from the descriptor or the body."""
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise ImageError(f"manifest is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ImageError("manifest is not a JSON object")
    kind = body.get("mediaType") or media_type or ""
    if kind in DOCKER_SCHEMA1 or body.get("schemaVersion") == 1:
        raise UnsupportedImage("Docker schema 1 manifests are not supported; re-push the image")
    if body.get("schemaVersion") != 2:
        raise UnsupportedImage(f"unsupported manifest schemaVersion {body.get('schemaVersion')!r}")
    if not kind:
        # OCI allows omitting mediaType; the shape tells the two apart.
        kind = OCI_INDEX if "manifests" in body else OCI_MANIFEST
    if kind in INDEX_TYPES:
        manifests = body.get("manifests")
        if not isinstance(manifests, list):
            raise ImageError("index has no manifests list")
        return Index(kind, tuple(Descriptor.from_json(m, "index entry") for m in manifests))
    if kind in MANIFEST_TYPES:
        layers = body.get("layers")
        if not isinstance(layers, list):
            raise ImageError("manifest has no layers list")
        config = Descriptor.from_json(body.get("config"), "manifest config")
        parsed = tuple(Descriptor.from_json(layer, "manifest layer") for layer in layers)
        for layer in parsed:
            if layer.media_type not in LAYER_TYPES:
                raise UnsupportedImage(f"unsupported layer media type {layer.media_type!r}")
        return Manifest(kind, config, parsed)
    raise UnsupportedImage(f"unsupported manifest media type {kind!r}")


def parse_config(data: bytes, manifest: Manifest) -> dict[str, Any]:
    """Parse the image config and check it agrees with the manifest's layers."""
    try:
        config = json.loads(data)
    except ValueError as exc:
        raise ImageError(f"image config is not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ImageError("image config is not a JSON object")
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(manifest.layers):
        raise ImageError(
            f"image config lists {len(diff_ids) if isinstance(diff_ids, list) else 'no'} diff_ids "
            f"for {len(manifest.layers)} layers"
        )
    for diff_id in diff_ids:
        check_digest(diff_id)
    return config
