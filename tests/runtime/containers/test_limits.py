"""cgroup limits on real containers: memory (OOM), pids, CPU quota."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from runtime_agent.container.spec import RestartPolicy
from runtime_agent.container.state import Container
from runtime_agent.errors import InvalidSpec
from runtime_agent.kernel.cgroups import Resources
from runtime_agent.runtime.api import Runtime
from tests.runtime.containers.conftest import output
from tests.runtime.containers.test_lifecycle import wait_for

Make = Callable[..., Container]


def test_memory_limit_oom_kills_with_137(runtime: Runtime, container: Make) -> None:
    c = container(
        "sh", "-c", "x=0123456789; while :; do x=$x$x; done", resources=Resources(memory=16 << 20)
    )
    assert runtime.wait(c, timeout=30) == 137
    state = runtime.inspect(c)["State"]
    assert state["OOMKilled"] is True
    assert state["ExitCode"] == 137


def test_exit_by_sigkill_without_oom_is_not_oom_killed(runtime: Runtime, container: Make) -> None:
    c = container("sleep", "30", resources=Resources(memory=64 << 20))
    runtime.kill(c)
    assert runtime.wait(c, timeout=10) == 137
    assert runtime.inspect(c)["State"]["OOMKilled"] is False


def test_pids_limit_stops_a_fork_bomb(runtime: Runtime, container: Make) -> None:
    # The outer shell outlives the bomb, so that the cgroup (removed at exit) can be read.
    c = container(
        "sh",
        "-c",
        "sh -c 'for i in $(seq 50); do sleep 30 & done; echo survived'; sleep 30",
        resources=Resources(pids_limit=10),
    )
    wait_for(lambda: any(b"can't fork" in e.data for e in runtime.logs(c) if e.stream == "stderr"))
    events = next(p for p in runtime.cgroup(c.id).paths() if "pids" in p.parts) / "pids.events"
    assert int(events.read_text().split()[1]) > 0  # forks the kernel refused at pids.max
    runtime.kill(c)
    assert runtime.wait(c, timeout=20) != 0
    assert output(runtime, c) == ""
    assert "can't fork" in output(runtime, c, "stderr")


def test_cpu_quota_holds_near_half_a_cpu(runtime: Runtime, container: Make) -> None:
    limited = container("sh", "-c", "while :; do :; done", resources=Resources(cpus=0.5))
    free = container("sh", "-c", "while :; do :; done")
    time.sleep(0.3)
    t0 = time.monotonic()
    before = [runtime.stats(c)["cpu_usage_ns"] for c in (limited, free)]
    time.sleep(1.5)
    elapsed = time.monotonic() - t0
    used, reference = (
        (runtime.stats(c)["cpu_usage_ns"] - b) / 1e9 / elapsed
        for c, b in zip((limited, free), before, strict=True)
    )
    for c in (limited, free):
        runtime.kill(c)
    assert used < 0.6, used
    # Other work on a shared machine can starve both; the lower bound only means something when the
    # unlimited twin got close to a whole CPU.
    if reference > 0.8:
        assert used > 0.35, (used, reference)


def test_stats_report_memory_limit(runtime: Runtime, container: Make) -> None:
    c = container("sleep", "30", resources=Resources(memory=32 << 20))
    stats = runtime.stats(c)
    assert stats["memory_limit"] == 32 << 20
    assert stats["pids"] == 1
    runtime.kill(c)
    assert output(runtime, c) == ""


def test_update_changes_a_running_containers_limits(runtime: Runtime, container: Make) -> None:
    c = container("sleep", "30", resources=Resources(memory=32 << 20, pids_limit=10))
    runtime.update(
        c, Resources(memory=96 << 20, cpus=0.5, pids_limit=20), RestartPolicy("on-failure", 2)
    )
    assert runtime.cgroup(c.id).paths()
    for path in runtime.cgroup(c.id).paths():
        if (path / "memory.limit_in_bytes").exists():
            assert (path / "memory.limit_in_bytes").read_text().strip() == str(96 << 20)
        if (path / "pids.max").exists():
            assert (path / "pids.max").read_text().strip() == "20"
        if (path / "cpu.cfs_quota_us").exists():
            assert (path / "cpu.cfs_quota_us").read_text().strip() == "50000"
    host = runtime.inspect(c)["HostConfig"]
    assert (host["Memory"], host["PidsLimit"], host["RestartPolicy"]["Name"]) == (
        96 << 20,
        20,
        "on-failure",
    )
    # Fields not given stay as they were.
    runtime.update(c, Resources(pids_limit=30))
    assert runtime.get(c.id).spec.resources == Resources(memory=96 << 20, cpus=0.5, pids_limit=30)
    with pytest.raises(InvalidSpec) as refused:
        runtime.update(c, Resources(memory=1024))
    assert refused.value.message == "Minimum memory limit allowed is 6MB"
