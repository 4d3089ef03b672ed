"""Pulls an image from a registry: layers download in parallel, unpack as they stream, and resume."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .errors import ImageError, RegistryError, UnsupportedImage
from .image import Image, ImageSink, LayerToFetch, ProgressCallback
from .manifest import Descriptor, Index, Manifest, Platform, parse, parse_config
from .registry import RegistryClient

if TYPE_CHECKING:
    from .reference import ImageReference

_REPLAY_STEP = 1 << 20


class PullCancelled(RegistryError):
    """Another layer of the same pull failed; this download stops and keeps its bytes."""

    code = "pull_cancelled"


def pull_image(
    store: ImageSink,
    ref: ImageReference,
    *,
    credentials: tuple[str, str] | None,
    token: str | None,
    progress: ProgressCallback | None,
    insecure: bool,
    platform: Platform,
) -> Image:
    client = RegistryClient(
        ref.registry,
        credentials=credentials,
        token=token,
        insecure=insecure,
        transport=store.transport,
    )
    with client:
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


@contextlib.contextmanager
def _download(
    client: RegistryClient,
    repository: str,
    descriptor: Descriptor,
    partial: Path,
    progress: ProgressCallback | None,
    cancel: threading.Event,
) -> Iterator[Iterator[bytes]]:
    """The layer's bytes: first those kept from an interrupted pull, then the rest from the network.

    Every byte received is appended to `partial` before it is unpacked, so an interruption
    (network, cancel, a failing progress callback, a crash) loses no download. Bytes that
    turn out wrong (bad digest, not a valid layer) are thrown away with the file.
    """
    fd = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "r+b") as sink:
        have = os.fstat(fd).st_size
        if have > descriptor.size:
            have = 0
        try:
            if have == descriptor.size:
                yield _replay(sink, have, descriptor, progress)
            else:
                with client.open_blob(repository, descriptor.digest, offset=have) as (
                    start,
                    stream,
                ):
                    yield _stream(sink, start, stream, descriptor, progress, cancel)
        except RegistryError:
            raise  # network trouble or cancelled: keep the bytes for the next attempt
        except ImageError:
            sink.close()
            partial.unlink(missing_ok=True)
            raise
    # Reached only when the layer unpacked and verified: its compressed bytes are not kept.
    partial.unlink(missing_ok=True)


def _replay(
    sink: BinaryIO, have: int, descriptor: Descriptor, progress: ProgressCallback | None
) -> Iterator[bytes]:
    sink.seek(0)
    done = 0
    while done < have:
        chunk = sink.read(min(_REPLAY_STEP, have - done))
        if not chunk:
            break
        done += len(chunk)
        yield chunk
    if progress is not None:
        progress(descriptor.digest, done, descriptor.size)


def _stream(
    sink: BinaryIO,
    start: int,
    stream: Iterator[bytes],
    descriptor: Descriptor,
    progress: ProgressCallback | None,
    cancel: threading.Event,
) -> Iterator[bytes]:
    if start:
        yield from _replay(sink, start, descriptor, progress)
    sink.seek(start)
    sink.truncate(start)
    done = start
    for chunk in stream:
        if cancel.is_set():
            raise PullCancelled(f"download of {descriptor.digest} stopped: another layer failed")
        sink.write(chunk)
        done += len(chunk)
        if done > descriptor.size:
            raise ImageError(
                f"layer {descriptor.digest} is longer than its {descriptor.size} bytes"
            )
        if progress is not None:
            progress(descriptor.digest, done, descriptor.size)
        yield chunk
