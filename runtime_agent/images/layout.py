"""Imports an image from an OCI image layout directory, verifying every blob it reads."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from .errors import ImageError, InvalidLayout
from .image import Image, ImageSink, LayerToFetch
from .manifest import (
    MAX_METADATA_SIZE,
    Descriptor,
    Index,
    Manifest,
    Platform,
    parse,
    parse_config,
    verify_blob,
)
from .reference import DEFAULT_TAG, TAG_RE

REF_NAME = "org.opencontainers.image.ref.name"
_READ_STEP = 1 << 20


class Layout:
    """Read access to the blobs of one layout directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        marker = path / "oci-layout"
        try:
            version = json.loads(marker.read_text()).get("imageLayoutVersion")
        except FileNotFoundError:
            raise InvalidLayout(f"{path} is not an OCI image layout (no oci-layout file)") from None
        except (ValueError, AttributeError):
            raise InvalidLayout(f"{marker} is not valid JSON") from None
        if version != "1.0.0":
            raise InvalidLayout(f"{path}: unsupported imageLayoutVersion {version!r}")

    def blob_path(self, descriptor: Descriptor) -> Path:
        algorithm, hex_digest = descriptor.digest.split(":", 1)
        return self.path / "blobs" / algorithm / hex_digest

    def read_small(self, descriptor: Descriptor, what: str) -> bytes:
        if descriptor.size > MAX_METADATA_SIZE:
            raise ImageError(f"{what} {descriptor.digest} is {descriptor.size} bytes; too large")
        try:
            with self.blob_path(descriptor).open("rb") as blob:
                data = blob.read(descriptor.size + 1)
        except FileNotFoundError:
            raise InvalidLayout(
                f"{self.path}: blob {descriptor.digest} ({what}) is missing"
            ) from None
        verify_blob(data, descriptor, what)
        return data

    @contextlib.contextmanager
    def open_chunks(self, descriptor: Descriptor) -> Iterator[Iterator[bytes]]:
        try:
            blob = self.blob_path(descriptor).open("rb")
        except FileNotFoundError:
            raise InvalidLayout(f"{self.path}: layer blob {descriptor.digest} is missing") from None
        with blob:
            yield iter(lambda: blob.read(_READ_STEP), b"")

    def index(self) -> Index:
        try:
            data = (self.path / "index.json").read_bytes()
        except FileNotFoundError:
            raise InvalidLayout(f"{self.path} has no index.json") from None
        parsed = parse(data)
        if not isinstance(parsed, Index):
            raise InvalidLayout(f"{self.path}/index.json is not an image index")
        return parsed


def _choose(index: Index, tag: str | None, path: Path) -> Descriptor:
    entries = index.manifests
    if tag is not None:
        for entry in entries:
            if entry.annotations.get(REF_NAME) == tag:
                return entry
        tags = sorted(e.annotations[REF_NAME] for e in entries if REF_NAME in e.annotations)
        raise InvalidLayout(
            f"{path} has no image tagged {tag!r} (tags: {', '.join(tags) or 'none'})"
        )
    if len(entries) == 1:
        return entries[0]
    if not entries:
        raise InvalidLayout(f"{path} holds no image")
    tags = sorted(e.annotations[REF_NAME] for e in entries if REF_NAME in e.annotations)
    raise InvalidLayout(
        f"{path} holds {len(entries)} images; choose one with oci:{path}:TAG (tags: {', '.join(tags)})"
    )


def default_name(path: Path) -> str:
    """A repository name for a layout imported without one: its directory's name, cleaned."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", path.resolve().name.lower()).strip("._-")
    return cleaned or "image"


def import_layout(
    store: ImageSink, path: Path, *, tag: str | None, name: str | None, platform: Platform
) -> Image:
    layout = Layout(path)
    top = _choose(layout.index(), tag, path)
    blobs: dict[str, bytes] = {}
    data = layout.read_small(top, "manifest")
    blobs[top.digest] = data
    parsed = parse(data, top.media_type)
    manifest_digest = top.digest
    if isinstance(parsed, Index):
        chosen = parsed.select(platform)
        data = layout.read_small(chosen, "manifest")
        blobs[chosen.digest] = data
        manifest_digest = chosen.digest
        parsed = parse(data, chosen.media_type)
    if not isinstance(parsed, Manifest):
        raise InvalidLayout(f"{path}: nested indexes are not supported")
    manifest = parsed
    config_bytes = layout.read_small(manifest.config, "image config")
    blobs[manifest.config.digest] = config_bytes
    config = parse_config(config_bytes, manifest)
    diff_ids: list[str] = list(config["rootfs"]["diff_ids"])
    layers = [
        LayerToFetch(diff_id, descriptor, lambda d=descriptor: layout.open_chunks(d))  # type: ignore[misc]
        for diff_id, descriptor in zip(diff_ids, manifest.layers, strict=True)
    ]
    ref_name = top.annotations.get(REF_NAME, "")
    chosen_tag = tag or (ref_name if TAG_RE.match(ref_name) else DEFAULT_TAG)
    repo_tags = [f"{name or default_name(path)}:{chosen_tag}"]
    image_platform = f"{config.get('os', '?')}/{config.get('architecture', '?')}"

    def commit() -> Image:
        return store.commit_image(
            config_digest=manifest.config.digest,
            blobs=blobs,
            digest=top.digest,
            manifest_digest=manifest_digest,
            diff_ids=diff_ids,
            repo_tags=repo_tags,
            repo_digests=[],
            platform=image_platform,
        )

    return store.store_image(layers, commit)
