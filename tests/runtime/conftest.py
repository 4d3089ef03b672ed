"""Fixtures of the runtime tests: image stores, busybox layouts built once, a real registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime_agent.images import ImageStore
from tests.support.distribution import Distribution, run_distribution
from tests.support.images import (
    build_busybox_layout,
    build_multilayer_layout,
)


@pytest.fixture
def image_store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "state")


@pytest.fixture(scope="session")
def busybox_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_busybox_layout(tmp_path_factory.mktemp("layouts") / "busybox")


@pytest.fixture(scope="session")
def multilayer_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_multilayer_layout(tmp_path_factory.mktemp("layouts") / "multilayer")


@pytest.fixture(scope="session")
def multiplatform_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_busybox_layout(
        tmp_path_factory.mktemp("layouts") / "multiplatform",
        platforms=["linux/amd64", "linux/arm64"],
    )


@pytest.fixture
def make_layout(tmp_path: Path) -> Callable[..., Path]:
    """Factory: make_layout(name, **build_busybox_layout options) -> layout dir."""

    def make(name: str = "image", **options: object) -> Path:
        return build_busybox_layout(tmp_path / "layouts" / name, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Distribution]:
    """One real distribution registry on 127.0.0.1 for the whole session."""
    with run_distribution(tmp_path_factory.mktemp("distribution")) as registry:
        yield registry
