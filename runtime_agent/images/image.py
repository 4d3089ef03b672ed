"""An image as the store records it, and what a pull or a layout import hands the store to
record one: the layers to fetch, progress callbacks, the store's side of it as a protocol."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .manifest import Descriptor

if TYPE_CHECKING:
    import httpx

ProgressCallback = Callable[[str, int, int], None]
"""Called as progress(layer_digest, bytes_done, bytes_total) while a layer downloads."""

ChunkSource = Callable[[], AbstractContextManager[Iterable[bytes]]]
"""Opens a layer's compressed bytes as an iterable of chunks (a file, a download)."""


@dataclass(frozen=True)
class Image:
    """A stored image; `layer_dirs` are ready to use as overlay lowerdirs (lowest first)."""

    id: str
    digest: str
    manifest_digest: str
    repo_tags: list[str]
    repo_digests: list[str]
    config: dict[str, Any]
    layers: list[str]
    layer_dirs: list[Path]
    size: int
    created: str
    platform: str

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[1][:12]

    @property
    def references(self) -> list[str]:
        return [*self.repo_tags, *self.repo_digests]

    @property
    def runtime_config(self) -> dict[str, Any]:
        """The config's `config` section: Env, Entrypoint, Cmd, WorkingDir, User, ExposedPorts, Labels."""
        section = self.config.get("config")
        return section if isinstance(section, dict) else {}


@dataclass(frozen=True)
class LayerToFetch:
    diff_id: str
    descriptor: Descriptor
    open: ChunkSource


class ImageSink(Protocol):
    """What a pull or an import needs of the store it fills (``store.ImageStore`` is one): the
    layers it has, where a download resumes, and the two calls that unpack and record an image."""

    transport: httpx.BaseTransport | None

    def has_layer(self, diff_id: str) -> bool: ...

    def partial_path(self, diff_id: str, descriptor: Descriptor) -> Path: ...

    @property
    def commit_image(self) -> Callable[..., Image]:
        """Records an image from its fields, given by keyword (see ``ImageStore.commit_image``)."""
        ...

    def store_image(
        self,
        layers: Sequence[LayerToFetch],
        commit: Callable[[], Image],
        cancel: threading.Event | None = None,
    ) -> Image: ...
