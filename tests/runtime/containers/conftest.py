"""Fixtures of the container tests: one Runtime per session on its own bridge and subnet."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime_agent.container.spec import RunOptions
from runtime_agent.container.state import Container
from runtime_agent.errors import NoSuchContainer
from runtime_agent.images import Image, ImageStore
from runtime_agent.runtime.api import Runtime

if os.geteuid() != 0:
    pytest.skip("container tests need root (namespaces, mounts, cgroups)", allow_module_level=True)

SESSION = os.getpid()
BRIDGE = f"berth-t{SESSION}"[:15]
SUBNET = f"10.213.{20 + SESSION % 200}.0/24"


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    state = tmp_path_factory.mktemp("berth-agent")
    rt = Runtime(state, images=ImageStore(state), bridge=BRIDGE, subnet=SUBNET)
    yield rt
    for container in rt.list(all=True):
        with contextlib.suppress(NoSuchContainer):
            rt.remove(container, force=True)
    rt.network.teardown()
    assert not os.path.exists(f"/sys/class/net/{BRIDGE}")


@pytest.fixture(scope="session")
def busybox(runtime: Runtime, busybox_layout: Path) -> Image:
    return runtime.images.import_layout(busybox_layout, tag="latest", name="busybox")


@pytest.fixture(scope="session")
def multilayer(runtime: Runtime, multilayer_layout: Path) -> Image:
    return runtime.images.import_layout(multilayer_layout, tag="latest", name="multilayer")


def leftovers(container_id: str) -> list[str]:
    """Everything a container could leave on the host, as lines naming what is left."""
    found = []
    with open("/proc/self/mountinfo") as f:
        found += [f"mount: {line.strip()}" for line in f if container_id in line]
    found += [f"cgroup: {p}" for p in Path("/sys/fs/cgroup").glob(f"*/berth/{container_id}")]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [f"link: {line}" for line in links.splitlines() if f"vb{container_id[:12]}" in line]
    rules = subprocess.run(
        ["iptables", "-w", "-t", "nat", "-S"], capture_output=True, text=True
    ).stdout
    found += [f"iptables: {line}" for line in rules.splitlines() if container_id in line]
    return found


@pytest.fixture
def container(runtime: Runtime, busybox: Image) -> Iterator[Callable[..., Container]]:
    """Factory: container(*command, start=True, image=busybox, **RunOptions fields).

    Containers default to ``--network none``; every one is removed and checked for leftovers.
    """
    made: list[Container] = []

    def make(*command: str, start: bool = True, image: Any = None, **options: Any) -> Container:
        options.setdefault("network", "none")
        made.append(
            runtime.create(image or busybox, RunOptions(command=list(command) or None, **options))
        )
        if start:
            runtime.start(made[-1])
        return made[-1]

    yield make
    for c in made:
        with contextlib.suppress(NoSuchContainer):
            runtime.remove(c, force=True)
        assert leftovers(c.id) == []


def output(runtime: Runtime, container: Container, stream: str = "stdout") -> str:
    runtime.wait(container, timeout=30)
    return b"".join(e.data for e in runtime.logs(container) if e.stream == stream).decode()
