"""Pulls with a bearer token the portal issued beforehand, through the image store's own pipeline.

The portal hands the agent a short-lived, pull-only token for exactly one repository, so the agent
never holds a user's or robot's credentials. `ImageStore.pull` only knows how to fetch tokens
itself; this module runs the same steps with a client that presents the given token instead.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from runtime_agent.images import Image, ImageReference, ImageStore, Platform, parse_reference
from runtime_agent.images.errors import AuthenticationFailed, InvalidReference, UnsupportedImage
from runtime_agent.images.manifest import Descriptor, Index, Manifest, parse, parse_config
from runtime_agent.images.pull import _download
from runtime_agent.images.registry import RegistryClient
from runtime_agent.images.store import LayerToFetch, ProgressCallback


class BearerRegistryClient(RegistryClient):
    """A registry client that presents one pre-issued token and never asks for another."""

    def __init__(
        self, registry: str, token: str, repository: str, *, insecure: bool = False
    ) -> None:
        super().__init__(registry, insecure=insecure)
        self._authorization[f"repository:{repository}:pull"] = f"Bearer {token}"

    def _authenticate(self, header: str, scope: str) -> None:
        raise AuthenticationFailed(
            f"{self.registry}: the pull token was refused for {scope} (expired or not granted)"
        )


def pull_with_token(
    store: ImageStore,
    reference: str,
    token: str | None,
    *,
    progress: ProgressCallback | None = None,
    insecure: bool = False,
) -> Image:
    """`store.pull(reference)`, authenticated by `token` when one is given."""
    if token is None:
        return store.pull(reference, progress=progress, insecure=insecure)
    ref = parse_reference(reference)
    if not isinstance(ref, ImageReference):
        raise InvalidReference(f"{reference}: a token only makes sense for a registry reference")
    platform = Platform.host()
    with BearerRegistryClient(ref.registry, token, ref.repository, insecure=insecure) as client:
        data, media_type, top_digest = client.get_manifest(ref.repository, ref.reference)
        blobs = {top_digest: data}
        parsed = parse(data, media_type)
        manifest_digest = top_digest
        if isinstance(parsed, Index):
            chosen = parsed.select(platform)
            data, media_type, manifest_digest = client.get_manifest(ref.repository, chosen.digest)
            blobs[manifest_digest] = data
            parsed = parse(data, media_type or chosen.media_type)
        if not isinstance(parsed, Manifest):
            raise UnsupportedImage(f"{ref}: an index inside an index is not supported")
        manifest = parsed
        config_bytes = client.get_blob(ref.repository, manifest.config, "image config")
        blobs[manifest.config.digest] = config_bytes
        config = parse_config(config_bytes, manifest)
        diff_ids: list[str] = list(config["rootfs"]["diff_ids"])
        cancel = threading.Event()
        layers = []
        for diff_id, descriptor in zip(diff_ids, manifest.layers, strict=True):
            if descriptor.urls:
                raise UnsupportedImage(f"{ref}: foreign layer {descriptor.digest} is not supported")
            if progress is not None and store.has_layer(diff_id):
                progress(descriptor.digest, descriptor.size, descriptor.size)

            def source(
                diff_id: str = diff_id, descriptor: Descriptor = descriptor
            ) -> contextlib.AbstractContextManager[Iterator[bytes]]:
                partial = store.partial_path(diff_id, descriptor)
                return _download(client, ref.repository, descriptor, partial, progress, cancel)

            layers.append(LayerToFetch(diff_id, descriptor, source))

        def commit() -> Image:
            return store.commit_image(
                config_digest=manifest.config.digest,
                blobs=blobs,
                digest=top_digest,
                manifest_digest=manifest_digest,
                diff_ids=diff_ids,
                repo_tags=[f"{ref.name}:{ref.tag}"] if ref.tag else [],
                repo_digests=[f"{ref.name}@{top_digest}"],
                platform=f"{config.get('os', '?')}/{config.get('architecture', '?')}",
            )

        return store.store_image(layers, commit, cancel)
