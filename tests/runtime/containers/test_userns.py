"""Containers in a user namespace of their own (--userns=auto): root inside, unprivileged outside."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_agent.container.spec import MountSpec, RestartPolicy
from runtime_agent.container.state import Container
from runtime_agent.images import Image
from runtime_agent.runtime.api import Runtime
from tests.runtime.containers.conftest import leftovers, output
from tests.runtime.containers.test_lifecycle import _cli

Make = Callable[..., Container]

if tuple(int(n) for n in os.uname().release.split(".")[:2]) < (6, 15):
    pytest.skip(
        "user namespace containers need idmapped detached mounts as overlay layers "
        "(developed on Linux 6.18)",
        allow_module_level=True,
    )


def host_root(runtime: Runtime, c: Container) -> int:
    return {owner: start for start, owner in runtime.id_ranges.allocations().items()}[c.id]


def host_ids(pid: int) -> tuple[str, str]:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return status["Uid"].split()[0], status["Gid"].split()[0]


def test_the_mapping_is_visible_inside(runtime: Runtime, container: Make) -> None:
    c = container("cat", "/proc/self/uid_map", "/proc/self/gid_map", userns="auto")
    mapping = ["0", str(host_root(runtime, c)), "65536"]
    assert output(runtime, c).split() == mapping + mapping


def test_the_container_process_is_root_inside(runtime: Runtime, container: Make) -> None:
    c = container("sh", "-c", "id -u; id -g; id -G", userns="auto")
    assert output(runtime, c) == "0\n0\n0\n"


def test_pid_1_runs_as_the_mapped_host_ids(runtime: Runtime, container: Make) -> None:
    c = container("sleep", "30", userns="auto")
    root = str(host_root(runtime, c))
    assert host_ids(c.state.pid) == (root, root)


def test_the_images_files_are_owned_by_root_inside(runtime: Runtime, container: Make) -> None:
    c = container("stat", "-c", "%u:%g %n", "/bin/busybox", "/etc/passwd", "/", userns="auto")
    assert output(runtime, c) == "0:0 /bin/busybox\n0:0 /etc/passwd\n0:0 /\n"


def test_a_created_file_is_owned_by_the_mapped_ids_on_disk(
    runtime: Runtime, container: Make
) -> None:
    c = container("sh", "-c", "touch /made && mkdir -p /srv/dir", userns="auto")
    assert runtime.wait(c, timeout=30) == 0
    root = host_root(runtime, c)
    for path in (c.upper / "made", c.upper / "srv/dir", c.upper / "srv"):
        assert (os.stat(path).st_uid, os.stat(path).st_gid) == (root, root)


def test_the_image_layers_stay_owned_by_host_root(
    runtime: Runtime, container: Make, busybox: Image
) -> None:
    c = container("sh", "-c", "chown 5:5 /bin/busybox && touch /etc/passwd", userns="auto")
    assert runtime.wait(c, timeout=30) == 0
    for layer in busybox.layer_dirs:
        for path in (Path(layer) / "bin/busybox", Path(layer) / "etc/passwd"):
            if path.exists():
                assert (path.stat().st_uid, path.stat().st_gid) == (0, 0)
    assert os.stat(c.upper / "bin/busybox").st_uid == host_root(runtime, c) + 5


def test_root_inside_cannot_make_a_device(runtime: Runtime, container: Make) -> None:
    c = container("mknod", "/disk", "b", "8", "0", userns="auto")
    assert runtime.wait(c, timeout=30) == 1
    assert output(runtime, c, "stderr") == "mknod: /disk: Operation not permitted\n"


def host_roots_file(directory: Path) -> Path:
    """A file of host root's that others may read, in a directory others may search."""
    directory.chmod(0o755)
    host_file = directory / "config"
    host_file.write_text("host\n")
    host_file.chmod(0o644)
    return host_file


def test_root_inside_cannot_write_a_file_of_host_root(
    runtime: Runtime, container: Make, tmp_path: Path
) -> None:
    host_file = host_roots_file(tmp_path)
    c = container(
        "sh", "-c", "cat /data/config; echo changed >> /data/config",
        mounts=[MountSpec("bind", "/data", str(tmp_path))],
        userns="auto",
    )  # fmt: skip
    assert runtime.wait(c, timeout=30) == 1
    assert output(runtime, c) == "host\n"
    assert output(runtime, c, "stderr") == "sh: can't create /data/config: Permission denied\n"
    assert host_file.read_text() == "host\n"


def test_a_named_volume_is_the_container_roots_and_its_files_host_roots(
    runtime: Runtime, container: Make
) -> None:
    volume = runtime.volumes.create("berth-userns-vol")
    Path(volume.mountpoint, "greeting").write_text("hello\n")
    mounts = [MountSpec("volume", "/data", volume.name)]
    try:
        c = container(
            "sh", "-c", "stat -c '%u:%g' /data /data/greeting; cat /data/greeting; "
            "echo written > /data/new; stat -c '%u:%g' /data/new",
            mounts=mounts, userns="auto",
        )  # fmt: skip
        assert output(runtime, c) == "0:0\n0:0\nhello\n0:0\n"
        new = Path(volume.mountpoint, "new")
        assert (new.stat().st_uid, new.stat().st_gid) == (0, 0)
        # Another range, and a container without a user namespace, see the same files alike.
        other = container("sh", "-c", "cat /data/new; stat -c %u /data/new", mounts=mounts,
                          userns="auto")  # fmt: skip
        plain = container("cat", "/data/new", mounts=mounts)
        assert host_root(runtime, other) != host_root(runtime, c)
        assert output(runtime, other) == "written\n0\n"
        assert output(runtime, plain) == "written\n"
    finally:
        for each in runtime.list(all=True):
            if any(m.source == volume.name for m in each.spec.mounts):
                runtime.remove(each, force=True)
        runtime.volumes.remove(volume.name)


def test_a_read_only_named_volume_is_readable_only(runtime: Runtime, container: Make) -> None:
    volume = runtime.volumes.create("berth-userns-ro")
    Path(volume.mountpoint, "greeting").write_text("hello\n")
    c = container(
        "sh", "-c", "cat /data/greeting; touch /data/new",
        mounts=[MountSpec("volume", "/data", volume.name, readonly=True)],
        userns="auto",
    )  # fmt: skip
    try:
        assert output(runtime, c) == "hello\n"
        assert c.state.exit_code == 1
        assert output(runtime, c, "stderr") == "touch: /data/new: Read-only file system\n"
        assert not Path(volume.mountpoint, "new").exists()
    finally:
        runtime.remove(c, force=True)
        runtime.volumes.remove(volume.name)


def test_an_idmapped_bind_lets_container_root_write_host_roots_files(
    runtime: Runtime, container: Make, tmp_path: Path
) -> None:
    host_file = host_roots_file(tmp_path)
    c = container(
        "sh", "-c", "stat -c %u /data/config; echo changed >> /data/config; mkdir /data/made",
        mounts=[MountSpec("bind", "/data", str(tmp_path), idmap=True)],
        userns="auto",
    )  # fmt: skip
    assert output(runtime, c) == "0\n"
    assert c.state.exit_code == 0
    assert host_file.read_text() == "host\nchanged\n"
    assert (host_file.stat().st_uid, (tmp_path / "made").stat().st_uid) == (0, 0)


def test_default_capabilities_inside(runtime: Runtime, container: Make) -> None:
    c = container("grep", "-E", "^(CapBnd|CapEff|NoNewPrivs):", "/proc/self/status", userns="auto")
    status = dict(line.split(":\t") for line in output(runtime, c).splitlines())
    assert status == {"CapBnd": "00000000a80425fb", "CapEff": "00000000a80425fb", "NoNewPrivs": "1"}


def test_hostname_and_bridge_network(runtime: Runtime, container: Make) -> None:
    c = container(
        "sh", "-c", "hostname; ip -o -4 addr show eth0 | awk '{print $4}'",
        hostname="berth-userns", network="bridge", userns="auto",
    )  # fmt: skip
    ip = c.state.ip_address
    assert output(runtime, c) == f"berth-userns\n{ip}/24\n"


def test_exec_joins_the_user_namespace_as_root(runtime: Runtime, container: Make) -> None:
    c = container("sleep", "30", userns="auto")
    result = runtime.exec(c, ["sh", "-c", "id -u; cat /proc/self/uid_map"])
    assert result.stdout.decode().split() == ["0", "0", str(host_root(runtime, c)), "65536"]
    assert result.exit_code == 0


def test_exec_as_another_user_drops_every_capability(runtime: Runtime, container: Make) -> None:
    c = container("sleep", "30", userns="auto")
    result = runtime.exec(c, ["sh", "-c", "id -u; grep CapEff /proc/self/status"], user="nobody")
    assert result.stdout.decode() == "65534\nCapEff:\t0000000000000000\n"


def test_two_containers_get_different_ranges(runtime: Runtime, container: Make) -> None:
    first, second = container("sleep", "30", userns="auto"), container("sleep", "30", userns="auto")
    first_uid, second_uid = int(host_ids(first.state.pid)[0]), int(host_ids(second.state.pid)[0])
    assert abs(first_uid - second_uid) >= 65536
    assert (first_uid, second_uid) == (host_root(runtime, first), host_root(runtime, second))


def test_a_restarted_container_is_root_of_a_mapped_namespace_again(
    runtime: Runtime, container: Make
) -> None:
    c = container(
        "sh", "-c", "id -u; cat /proc/self/uid_map; exit 3",
        restart=RestartPolicy("on-failure", 1), userns="auto",
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while c.state.restart_count < 1 or c.state.running:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run = ["0", "0", str(host_root(runtime, c)), "65536"]
    assert output(runtime, c).split() == run + run
    assert c.state.exit_code == 3


def test_stop_and_remove_leave_nothing_and_free_the_range(
    runtime: Runtime, container: Make
) -> None:
    c = container("sleep", "30", userns="auto", network="bridge")
    root = host_root(runtime, c)
    runtime.stop(c, timeout=0.2)
    assert c.state.exit_code == 137
    runtime.remove(c)
    assert leftovers(c.id) == []
    assert root not in runtime.id_ranges.allocations()
    assert _owned_by(root) == []


def _owned_by(uid: int) -> list[str]:
    """Host processes running as ``uid``."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if status.read_text().split("Uid:\t", 1)[1].split()[0] == str(uid):
                found.append(status.parent.name)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return found


def test_cli_run_userns_auto_shows_in_inspect(runtime: Runtime, busybox: Image) -> None:
    state = runtime.state_dir
    run = _cli(state, "run", "-d", "--network", "none", "--userns", "auto", "--name",
               "berth-cli-userns", "busybox", "sleep", "30")  # fmt: skip
    assert run.returncode == 0, run.stderr
    try:
        info = json.loads(_cli(state, "inspect", "berth-cli-userns").stdout)[0]
        assert info["HostConfig"]["UsernsMode"] == "auto"
        exec_ = _cli(
            state, "exec", "berth-cli-userns", "sh", "-c", "id -u; cut -c1-10 /proc/self/uid_map"
        )
        assert exec_.stdout.split() == ["0", "0"]
        assert host_ids(info["State"]["Pid"])[0] != "0"
    finally:
        assert _cli(state, "rm", "-f", "berth-cli-userns").returncode == 0


def test_cli_volume_options_and_what_inspect_shows(
    runtime: Runtime, busybox: Image, tmp_path: Path
) -> None:
    tmp_path.chmod(0o755)
    state = runtime.state_dir
    run = _cli(state, "run", "-d", "--network", "none", "--userns", "auto", "--name",
               "berth-cli-idmap", "-v", f"{tmp_path}:/bound:idmap", "-v",
               f"{tmp_path}:/plain:ro", "-v", "berth-cli-idmap-vol:/named", "busybox",
               "sh", "-c", "touch /bound/made /named/made && sleep 30")  # fmt: skip
    assert run.returncode == 0, run.stderr
    try:
        info = json.loads(_cli(state, "inspect", "berth-cli-idmap").stdout)[0]
        modes = {m["Destination"]: (m["Mode"], m["RW"]) for m in info["Mounts"]}
        assert modes == {
            "/bound": ("idmap", True),
            "/plain": ("ro", False),
            "/named": ("idmap", True),
        }
        deadline = time.monotonic() + 30
        while not (tmp_path / "made").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert (tmp_path / "made").stat().st_uid == 0
        volume = runtime.volumes.get("berth-cli-idmap-vol")
        deadline = time.monotonic() + 30
        while not Path(volume.mountpoint, "made").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert Path(volume.mountpoint, "made").stat().st_uid == 0
    finally:
        assert _cli(state, "rm", "-f", "berth-cli-idmap").returncode == 0
        assert _cli(state, "volume", "rm", "berth-cli-idmap-vol").returncode == 0
    refused = _cli(state, "run", "--rm", "--network", "none", "-v", f"{tmp_path}:/data:idmap",
                   "busybox", "true")  # fmt: skip
    assert (refused.returncode, refused.stderr) == (
        1,
        "Error response from daemon: invalid mount config: "
        "idmap needs a user namespace (--userns auto): /data\n",
    )


def test_a_bind_whose_filesystem_cannot_be_idmapped_fails_the_start_clearly(
    runtime: Runtime, busybox: Image
) -> None:
    result = _cli(runtime.state_dir, "run", "--rm", "--network", "none", "--userns", "auto",
                  "-v", "/sys/fs/cgroup:/cgroups:idmap", "busybox", "true")  # fmt: skip
    assert (result.returncode, result.stderr) == (
        125,
        "berth-agent: Error response from daemon: failed to create task for container: "
        "bind /sys/fs/cgroup cannot be idmapped for /cgroups: "
        "its filesystem does not support idmapped mounts\n",
    )
    assert runtime.list(all=True) == []


def test_cli_refuses_userns_with_the_host_network(runtime: Runtime, busybox: Image) -> None:
    result = _cli(runtime.state_dir, "run", "--rm", "--network", "host", "--userns", "auto",
                  "busybox", "true")  # fmt: skip
    assert (result.returncode, result.stderr) == (
        1,
        "Error response from daemon: "
        "Cannot share the host's network namespace when user namespaces are enabled\n",
    )
