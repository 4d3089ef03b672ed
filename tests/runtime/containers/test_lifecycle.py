"""Container lifecycle: stop, kill, restart policies, exec, logs, removal, and agent restarts."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_agent.container.spec import MountSpec, RestartPolicy, RunOptions
from runtime_agent.container.state import Container, Status
from runtime_agent.errors import Conflict, InvalidSpec, NoSuchContainer
from runtime_agent.images import Image
from runtime_agent.images.errors import ImageInUse, ImageNotFound
from runtime_agent.isolation.network import PortMapping
from runtime_agent.kernel.cgroups import Resources
from runtime_agent.runtime.api import Runtime
from tests.runtime.containers.conftest import BRIDGE, SUBNET, leftovers, output
from tests.support.images import build_busybox_layout

Make = Callable[..., Container]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_exit_code_and_logs_with_timestamps(runtime: Runtime, container: Make) -> None:
    c = container("sh", "-c", "echo out; echo err >&2; exit 7")
    assert runtime.wait(c, timeout=10) == 7
    entries = list(runtime.logs(c))
    assert [(e.stream, e.data) for e in entries] == [("stdout", b"out\n"), ("stderr", b"err\n")]
    assert all(e.time.endswith("Z") and "T" in e.time for e in entries)
    assert runtime.inspect(c)["State"]["Status"] == "exited"


def test_logs_follow_until_exit(runtime: Runtime, container: Make) -> None:
    c = container("sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.1; done")
    assert [e.data for e in runtime.logs(c, follow=True)] == [b"line1\n", b"line2\n", b"line3\n"]


def test_stop_sends_sigterm_then_sigkill_after_the_timeout(
    runtime: Runtime, container: Make
) -> None:
    c = container("sleep", "30")  # PID 1 without a handler ignores SIGTERM
    started = time.monotonic()
    runtime.stop(c, timeout=0.5)
    assert 0.4 < time.monotonic() - started < 5
    assert c.state.exit_code == 137
    assert c.state.status == Status.EXITED


def test_stop_lets_a_process_that_handles_sigterm_exit_cleanly(
    runtime: Runtime, container: Make
) -> None:
    c = container("sh", "-c", "trap 'exit 0' TERM; echo up; while :; do sleep 0.05; done")
    wait_for(lambda: any(e.data == b"up\n" for e in runtime.logs(c)))
    runtime.stop(c, timeout=10)
    assert c.state.exit_code == 0


def test_kill_restart_and_start_again(runtime: Runtime, container: Make) -> None:
    c = container("sleep", "30")
    runtime.kill(c, signal.SIGKILL)
    assert runtime.wait(c, timeout=10) == 137
    with pytest.raises(Conflict):
        runtime.kill(c)
    runtime.start(c)
    assert c.state.status == Status.RUNNING
    runtime.restart(c, timeout=0.2)
    assert c.state.status == Status.RUNNING
    assert c.state.generation == 3


def test_on_failure_restarts_up_to_the_limit(runtime: Runtime, container: Make) -> None:
    c = container("sh", "-c", "echo run; exit 3", restart=RestartPolicy("on-failure", 2))
    wait_for(lambda: c.state.status == Status.EXITED and c.state.restart_count == 2)
    assert c.state.exit_code == 3
    assert output(runtime, c) == "run\nrun\nrun\n"


def test_always_restarts_until_stopped(runtime: Runtime, container: Make) -> None:
    c = container("sh", "-c", "exit 0", restart=RestartPolicy("always"))
    wait_for(lambda: c.state.restart_count >= 2)
    runtime.stop(c, timeout=1)
    count = c.state.restart_count
    time.sleep(0.5)
    assert c.state.status == Status.EXITED
    assert c.state.restart_count == count


def test_exec_runs_inside_the_container(runtime: Runtime, container: Make) -> None:
    c = container("sleep", "30", hostname="exec-box", env=["FROM_SPEC=1"])
    result = runtime.exec(
        c,
        ["sh", "-c", "hostname; echo $FROM_SPEC $EXTRA; ls /proc | grep -c '^[0-9]'; exit 4"],
        env=["EXTRA=2"],
    )
    lines = result.stdout.decode().split()
    assert lines[:3] == ["exec-box", "1", "2"]
    assert int(lines[3]) <= 4  # sleep, sh, ls, grep: nothing from the host
    assert result.exit_code == 4
    runtime.kill(c)


def test_exec_in_a_stopped_container_is_refused(runtime: Runtime, container: Make) -> None:
    c = container("true")
    runtime.wait(c, timeout=10)
    with pytest.raises(Conflict) as info:
        runtime.exec(c, ["true"])
    assert info.value.message == f"Container {c.id} is not running"


def test_remove_running_needs_force(runtime: Runtime, container: Make) -> None:
    c = container("sleep", "30")
    with pytest.raises(Conflict) as info:
        runtime.remove(c)
    assert info.value.message == (
        f"You cannot remove a running container {c.id}. "
        "Stop the container before attempting removal or force remove"
    )
    runtime.remove(c, force=True)
    with pytest.raises(NoSuchContainer):
        runtime.get(c.id)


def test_remove_leaves_no_mount_cgroup_veth_or_rule(runtime: Runtime, container: Make) -> None:
    c = container(
        "sleep", "30", network="bridge", ports=[PortMapping(80, 20999, "127.0.0.1")],
        resources=Resources(memory=64 << 20, pids_limit=20), mounts=[MountSpec("tmpfs", "/t", "tmpfs")],
    )  # fmt: skip
    # While it runs, its traces are visible where the assertions look.
    assert any("cgroup" in line for line in leftovers(c.id))
    assert any("link" in line for line in leftovers(c.id))
    assert any("iptables" in line for line in leftovers(c.id))
    # Its root filesystem's mount point and /etc files live on a tmpfs only its processes see.
    assert list(runtime.staging_dir.iterdir()) == []
    assert sorted(p.name for p in c.dir.iterdir()) == [
        ".state.json.swap",
        "config.json",
        "container.log",
        "state.json",
        "upper",
        "work",
    ]
    runtime.remove(c, force=True)
    assert leftovers(c.id) == []
    assert not c.dir.exists()


def test_the_shim_lets_go_of_the_containers_mount_namespace_after_the_exit(
    runtime: Runtime, container: Make
) -> None:
    # Given a running container, whose shim holds its mount namespace
    c = container("sleep", "30")
    namespace = os.readlink(f"/proc/{c.state.pid}/ns/mnt")
    shim = c.state.shim_pid
    assert namespace in {
        os.readlink(f"/proc/{shim}/fd/{fd}") for fd in os.listdir(f"/proc/{shim}/fd")
    }
    # When it is killed and its exit recorded
    runtime.kill(c)
    assert runtime.wait(c, timeout=10) == 137
    # Then no process has the namespace or holds it open: its mounts are gone with it
    wait_for(lambda: namespace not in namespace_holders())
    runtime.remove(c)


def namespace_holders() -> set[str]:
    """Every mount namespace a process is in or holds open, as "mnt:[inode]"."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            found.add(os.readlink(f"/proc/{pid}/ns/mnt"))
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    found.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return found


def test_names_are_unique_and_resolve(runtime: Runtime, container: Make) -> None:
    c = container("true", name="berth-named", start=False)
    assert runtime.get("berth-named").id == c.id
    assert runtime.get(c.id[:10]).id == c.id
    with pytest.raises(Conflict) as info:
        container("true", name="berth-named", start=False)
    assert info.value.message.startswith(
        'Conflict. The container name "/berth-named" is already in use'
    )


def test_concurrent_creates_of_one_name_give_it_to_exactly_one(
    runtime: Runtime, busybox: Image
) -> None:
    # Given eight runtimes on the same state dir (the agent's and CLIs'), released at once
    runtimes = [
        Runtime(runtime.state_dir, bridge=BRIDGE, subnet=SUBNET, zygote=False) for _ in range(8)
    ]
    barrier = threading.Barrier(len(runtimes))
    made: list[Container] = []
    refused: list[str] = []

    def create(other: Runtime) -> None:
        barrier.wait()
        try:
            made.append(other.create(busybox, RunOptions(name="berth-race", network="none")))
        except Conflict as e:
            refused.append(e.message)

    threads = [threading.Thread(target=create, args=(r,)) for r in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then one has the name, the seven others are refused, and the name is free once it is gone
    assert len(made) == 1 and len(refused) == 7
    assert runtime.get("berth-race").id == made[0].id
    runtime.remove(made[0])
    again = runtime.create(busybox, RunOptions(name="berth-race", network="none"))
    assert runtime.get("berth-race").id == again.id
    runtime.remove(again)


def test_invalid_options_are_refused_before_anything_is_made(
    runtime: Runtime, container: Make
) -> None:
    before = set(os.listdir(runtime.containers_dir))
    with pytest.raises(InvalidSpec) as info:
        container("true", resources=Resources(memory=1024), start=False)
    assert info.value.message == "Minimum memory limit allowed is 6MB"
    with pytest.raises(InvalidSpec) as info:
        container("true", restart=RestartPolicy("sometimes"), start=False)
    assert info.value.message == (
        "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
    )
    assert set(os.listdir(runtime.containers_dir)) == before


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BERTH_AGENT_STATE": str(state),
        "BERTH_BRIDGE": BRIDGE,
        "BERTH_SUBNET": SUBNET,
    }
    return subprocess.run(
        [sys.executable, "-m", "runtime_agent", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_containers_outlive_the_agent_and_exits_while_it_is_down_are_recorded(
    runtime: Runtime, busybox: Image
) -> None:
    # Given containers started by an agent process that then exits
    state = runtime.state_dir
    ref = "busybox:latest"
    long = _cli(state, "run", "-d", "--network", "none", "--name", "berth-long", ref, "sleep", "30")
    short = _cli(
        state,
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "berth-short",
        ref,
        "sh",
        "-c",
        "sleep 0.5; exit 3",
    )
    assert long.returncode == 0 and short.returncode == 0, long.stderr + short.stderr
    try:
        # When a new agent looks at the same state directory after the short one exited
        time.sleep(1.0)
        again = Runtime(state, bridge=BRIDGE, subnet=SUBNET)
        listed = {c.spec.name: c.state for c in again.list(all=True)}
        # Then the long one is still running and the short one's exit was recorded by its shim
        assert listed["berth-long"].status == Status.RUNNING
        assert listed["berth-short"].status == Status.EXITED
        assert listed["berth-short"].exit_code == 3
        ps = _cli(state, "ps")
        assert "berth-long" in ps.stdout and "berth-short" not in ps.stdout
        assert "Exited (3)" in _cli(state, "ps", "-a").stdout
    finally:
        for name in ("berth-long", "berth-short"):
            _cli(state, "rm", "-f", name)
    assert _cli(state, "ps", "-a", "-q").stdout == ""


def test_a_killed_shim_is_reported_instead_of_running_forever(
    runtime: Runtime, container: Make
) -> None:
    c = container("sleep", "30")
    os.kill(c.state.shim_pid, signal.SIGKILL)
    wait_for(lambda: not runtime.reconcile(c).running)
    assert c.state.error == "container supervisor (shim) exited unexpectedly"


def test_an_image_a_container_uses_is_not_removed_until_the_container_is(
    runtime: Runtime, container: Make, tmp_path: Path
) -> None:
    # Given an image of its own and a container created from it (not started)
    layout = build_busybox_layout(tmp_path / "layout", config={"Env": ["PATH=/bin", "OWN=1"]})
    image = runtime.images.import_layout(layout, tag="latest", name="used")
    c = container("true", image=image, start=False)
    # When another runtime on the same state directory (the CLI's) removes the image
    other = Runtime(runtime.state_dir, bridge=BRIDGE, subnet=SUBNET, zygote=False)
    with pytest.raises(ImageInUse) as info:
        other.images.remove(image.id)
    # Then it is refused, naming the container, and the image stays until the container goes
    assert str(info.value) == (
        f"image {image.id} ({image.id[7:19]}) is in use by container(s) {c.id}"
    )
    runtime.remove(c)
    assert other.images.remove(image.id)[-1] == f"deleted {image.id}"
    with pytest.raises(ImageNotFound):
        runtime.images.get(image.id)


def test_an_exited_containers_cgroup_is_removed_and_its_stats_are_empty(
    runtime: Runtime, container: Make
) -> None:
    c = container("true", resources=Resources(memory=32 << 20))
    assert runtime.wait(c, timeout=10) == 0
    wait_for(lambda: not runtime.cgroup(c.id).exists())
    assert c.state.status == Status.EXITED
    stats = runtime.stats(c)
    assert (stats["memory_usage"], stats["cpu_usage_ns"], stats["pids"]) == (0, 0, 0)
    runtime.start(c)  # a new run gets a new cgroup
    assert runtime.wait(c, timeout=10) == 0
    assert c.state.generation == 2
