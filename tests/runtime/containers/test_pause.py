"""pause and unpause: every process of a container frozen in the freezer cgroup, and thawed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_agent.container.state import Container
from runtime_agent.errors import Conflict
from runtime_agent.images import Image
from runtime_agent.runtime.api import Runtime
from tests.runtime.containers.conftest import leftovers
from tests.runtime.containers.test_lifecycle import _cli

Make = Callable[..., Container]

TICKING = ("sh", "-c", "while true; do echo tick; sleep 0.05; done")


def ticks(runtime: Runtime, c: Container) -> int:
    return sum(1 for _ in runtime.logs(c))


def wait_for_ticks(runtime: Runtime, c: Container, more_than: int) -> int:
    deadline = time.monotonic() + 10
    while (count := ticks(runtime, c)) <= more_than:
        assert time.monotonic() < deadline, "the container wrote nothing more"
        time.sleep(0.02)
    return count


def process_states(runtime: Runtime, c: Container) -> set[str]:
    """The scheduler's state letter of every process of the container."""
    states = set()
    for pid in runtime.cgroup(c.id).pids():
        status = Path(f"/proc/{pid}/status").read_text()
        states.add(status.split("State:\t", 1)[1][0])
    return states


def test_a_paused_container_does_nothing_until_unpaused(runtime: Runtime, container: Make) -> None:
    c = container(*TICKING)
    before = wait_for_ticks(runtime, c, 1)
    runtime.pause(c)
    time.sleep(0.1)  # a line written just before the freeze may still be on its way to the log
    frozen = ticks(runtime, c)
    time.sleep(0.3)  # six ticks' time
    assert ticks(runtime, c) == frozen
    # Frozen, not stopped by a signal (a process could see SIGSTOP) nor gone.
    assert process_states(runtime, c) <= {"D", "S"}
    assert c.state.running and c.state.paused
    inspected = runtime.inspect(c)["State"]
    assert (inspected["Status"], inspected["Running"], inspected["Paused"]) == (
        "paused",
        True,
        True,
    )
    with pytest.raises(Conflict) as refused:
        runtime.exec(c, ["true"])
    assert refused.value.message == f"Container {c.id} is paused, unpause the container before exec"
    with pytest.raises(Conflict) as twice:
        runtime.pause(c)
    assert twice.value.message == f"Container {c.id} is already paused"
    runtime.unpause(c)
    assert wait_for_ticks(runtime, c, frozen) > before
    assert not c.state.paused
    with pytest.raises(Conflict) as again:
        runtime.unpause(c)
    assert again.value.message == f"Container {c.id} is not paused"


def test_a_paused_container_stops_and_is_removed_and_leaves_nothing(
    runtime: Runtime, container: Make
) -> None:
    stopped, removed = container(*TICKING), container(*TICKING)
    for c in (stopped, removed):
        runtime.pause(c)
    runtime.stop(stopped, timeout=0.2)
    assert (stopped.state.exit_code, stopped.state.paused) == (137, False)
    runtime.remove(removed, force=True)
    assert leftovers(removed.id) == []
    with pytest.raises(Conflict) as refused:
        runtime.pause(stopped)
    assert refused.value.message == f"Container {stopped.id} is not running"


def test_cli_pause_shows_in_ps_and_inspect(runtime: Runtime, busybox: Image) -> None:
    state = runtime.state_dir
    assert _cli(state, "run", "-d", "--name", "berth-paused", "--network", "none", "busybox",
                "sleep", "60").returncode == 0  # fmt: skip
    try:
        assert _cli(state, "pause", "berth-paused").stdout == "berth-paused\n"
        assert "(Paused)" in _cli(state, "ps").stdout
        info = json.loads(_cli(state, "inspect", "berth-paused").stdout)[0]
        assert info["State"]["Paused"] is True
        assert _cli(state, "unpause", "berth-paused").returncode == 0
        assert "(Paused)" not in _cli(state, "ps").stdout
    finally:
        assert _cli(state, "rm", "-f", "berth-paused").returncode == 0
