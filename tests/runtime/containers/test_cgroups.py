"""cgroup v1 on this host's hierarchies, v2 on a cgroup2 mount of our own and on a fake tree."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_agent.container.spec import RunOptions
from runtime_agent.container.zygote import ZygoteClient
from runtime_agent.errors import InvalidSpec
from runtime_agent.images import ImageStore
from runtime_agent.kernel import linux
from runtime_agent.kernel.cgroups import (
    CGROUP_MOUNT,
    CgroupV1,
    CgroupV2,
    Resources,
    cgroup_for,
    is_unified,
)
from runtime_agent.kernel.cgroups.v1 import DEVICE_RULES, hierarchies
from runtime_agent.runtime.api import Runtime
from tests.runtime.containers.test_lifecycle import wait_for


@pytest.fixture
def cgroup2_mount(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "cgroup2"
    mount.mkdir()
    try:
        linux.mount("none", str(mount), "cgroup2")
    except OSError as e:
        pytest.skip(f"cannot mount cgroup2 here: {e}")
    yield mount
    linux.umount2(str(mount))


def _sleeper() -> int:
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    return pid


def test_v2_create_join_stats_kill_destroy_on_a_real_cgroup2(cgroup2_mount: Path) -> None:
    # Given a container cgroup on a real cgroup2 hierarchy (no controllers may be delegated here)
    cgroup = CgroupV2(cgroup2_mount, f"berth-test-{os.getpid()}", "c1")
    cgroup.create(Resources())
    child = _sleeper()
    try:
        # When a process joins it
        cgroup.join(child)
        # Then it is listed, accounted, frozen and thawed, and killed and removed with the cgroup
        assert cgroup.pids() == [child]
        assert cgroup.stats().cpu_usage_ns >= 0
        cgroup.freeze()
        assert "frozen 1" in (cgroup.path / "cgroup.events").read_text()
        cgroup.thaw()
        assert "frozen 0" in (cgroup.path / "cgroup.events").read_text()
        cgroup.kill()
        _, status = os.waitpid(child, 0)
        assert os.WTERMSIG(status) == signal.SIGKILL
        cgroup.destroy()
        assert not cgroup.exists()
    finally:
        if cgroup.exists():
            cgroup.kill()
            cgroup.destroy()
        os.rmdir(cgroup.parent)


def test_v2_refuses_limits_for_controllers_it_does_not_have(cgroup2_mount: Path) -> None:
    available = (cgroup2_mount / "cgroup.controllers").read_text().split()
    if "memory" in available:
        pytest.skip("memory is delegated to cgroup2 on this host")
    cgroup = CgroupV2(cgroup2_mount, f"berth-test-{os.getpid()}", "c2")
    with pytest.raises(InvalidSpec) as info:
        cgroup.create(Resources(memory=64 << 20))
    assert info.value.message == "cgroup v2 controller 'memory' is not available on this host"
    assert not cgroup.parent.exists()


def fake_unified_tree(root: Path) -> Path:
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_v2_writes_limits_and_enables_controllers_top_down(tmp_path: Path) -> None:
    mount = fake_unified_tree(tmp_path / "fake")
    cgroup = cgroup_for("c3", "berth", mount)
    assert isinstance(cgroup, CgroupV2)
    cgroup.create(Resources(memory=64 << 20, cpus=0.5, cpu_shares=512, pids_limit=20))
    assert (mount / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert (mount / "berth" / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    path = mount / "berth" / "c3"
    assert (path / "memory.max").read_text() == str(64 << 20)
    assert (path / "cpu.max").read_text() == "50000 100000"
    assert (path / "cpu.weight").read_text() == "20"
    assert (path / "pids.max").read_text() == "20"


def test_v2_stats_and_oom_kills_from_its_files(tmp_path: Path) -> None:
    mount = fake_unified_tree(tmp_path / "fake")
    cgroup = CgroupV2(mount, "berth", "c4")
    cgroup.create(Resources())
    (cgroup.path / "memory.current").write_text("4096\n")
    (cgroup.path / "memory.max").write_text("max\n")
    (cgroup.path / "cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\n")
    (cgroup.path / "pids.current").write_text("3\n")
    (cgroup.path / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 2\n")
    stats = cgroup.stats()
    assert (stats.memory_usage, stats.memory_limit, stats.cpu_usage_ns, stats.pids) == (
        4096,
        None,
        1_500_000,
        3,
    )
    assert cgroup.oom_kills() == 2


@pytest.mark.skipif(is_unified(), reason="this host's cgroups are v2")
def test_v1_limits_and_removal_on_this_host() -> None:
    cgroup = cgroup_for(f"berth-test-{os.getpid()}")
    assert isinstance(cgroup, CgroupV1)
    cgroup.create(Resources(memory=32 << 20, cpus=0.25, pids_limit=7))
    try:
        paths = {p.parent.parent.name: p for p in cgroup.paths()}
        assert (paths["memory"] / "memory.limit_in_bytes").read_text().strip() == str(32 << 20)
        assert (paths["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "25000"
        assert (paths["pids"] / "pids.max").read_text().strip() == "7"
        assert "c 1:3 rwm" in (paths["devices"] / "devices.list").read_text()
        assert cgroup.stats().memory_limit == 32 << 20
    finally:
        cgroup.destroy()
    assert not cgroup.exists()


def standby_cgroups(root: str = "berth") -> list[Path]:
    return sorted(Path("/sys/fs/cgroup").glob(f"*/{root}/standby-*"))


@pytest.mark.skipif(is_unified(), reason="this host's cgroups are v2 (no renames)")
def test_the_process_forked_ahead_waits_in_a_spare_cgroup_that_becomes_the_containers(
    tmp_path: Path, busybox_layout: Path
) -> None:
    # Given a runtime of its own, under its own cgroup root, whose standby shim is ready
    root = f"berth-spare-{os.getpid()}"
    runtime = Runtime(tmp_path / "state", images=ImageStore(tmp_path / "state"), cgroup_root=root)
    image = runtime.images.import_layout(busybox_layout, tag="latest", name="busybox")
    try:
        first = runtime.run(image, RunOptions(command=["true"], network="none"))
        runtime.wait(first, timeout=10)
        runtime.remove(first)

        def waiting() -> set[str]:
            return {
                p.read_text().strip() for p in (s / "cgroup.procs" for s in standby_cgroups(root))
            }

        # The standby makes its spare in every hierarchy, then moves its process into each.
        wait_for(lambda: len(standby_cgroups(root)) == len(hierarchies(CGROUP_MOUNT)))
        wait_for(lambda: "" not in waiting())
        spare_pid = int(standby_cgroups(root)[0].name.removeprefix("standby-"))
        assert len(waiting()) == 1  # its container process, in every hierarchy
        # When the next container starts with limits
        c = runtime.run(
            image,
            RunOptions(
                command=["sleep", "30"],
                network="none",
                resources=Resources(memory=48 << 20, pids_limit=9),
            ),
        )
        # Then that spare was renamed to the container's cgroup, with the process and the limits
        memory = Path(f"/sys/fs/cgroup/memory/{root}/{c.id}")
        assert memory.joinpath("cgroup.procs").read_text().split() == [str(c.state.pid)]
        assert c.state.shim_pid == spare_pid
        assert memory.joinpath("memory.limit_in_bytes").read_text().strip() == str(48 << 20)
        assert Path(f"/sys/fs/cgroup/pids/{root}/{c.id}/pids.max").read_text().strip() == "9"
        devices = Path(f"/sys/fs/cgroup/devices/{root}/{c.id}/devices.list").read_text().split("\n")
        assert set(devices) - {""} == set(DEVICE_RULES)
        assert f"standby-{spare_pid}" not in {p.name for p in standby_cgroups(root)}
        runtime.remove(c, force=True)
        assert not any(Path("/sys/fs/cgroup").glob(f"*/{root}/{c.id}"))
    finally:
        runtime.close()
    # And once the runtime is closed, its unused standby takes its spare cgroup with it
    wait_for(lambda: standby_cgroups(root) == [])
    for _, hierarchy in hierarchies(CGROUP_MOUNT):
        (hierarchy / root).rmdir()


@pytest.mark.skipif(is_unified(), reason="this host's cgroups are v2 (no renames)")
def test_spare_cgroups_of_a_killed_helper_are_removed_when_the_next_starts(tmp_path: Path) -> None:
    # Given a spare cgroup left by a standby that died (no such process)
    root = f"berth-spare-{os.getpid()}"
    abandoned = CgroupV1(CGROUP_MOUNT, root, "standby-999999999")
    abandoned.create(Resources())
    client = ZygoteClient((root, CGROUP_MOUNT))
    try:
        # When a helper starts and its first standby is made
        client._new_standby().close()
        # Then the abandoned cgroup is gone
        wait_for(lambda: not abandoned.exists())
    finally:
        client.close()
        wait_for(lambda: standby_cgroups(root) == [])
        for _, hierarchy in hierarchies(CGROUP_MOUNT):
            (hierarchy / root).rmdir()
