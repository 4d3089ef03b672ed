"""The command line end to end, in fresh interpreters as a user would run it."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from runtime_agent.images import Image
from runtime_agent.runtime.api import Runtime
from tests.runtime.containers.conftest import BRIDGE, SUBNET
from tests.runtime.containers.test_lifecycle import _cli
from tests.runtime.containers.test_volumes_network import _port


def test_run_streams_output_and_exits_with_the_containers_code(
    runtime: Runtime, busybox: Image
) -> None:
    result = _cli(
        runtime.state_dir,
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 5",
    )
    assert (result.returncode, result.stdout, result.stderr) == (5, "out\n", "err\n")
    assert _cli(runtime.state_dir, "ps", "-a", "-q").stdout == ""


def test_run_unknown_command_fails_like_docker(runtime: Runtime, busybox: Image) -> None:
    result = _cli(runtime.state_dir, "run", "--rm", "--network", "none", "busybox", "nope")
    assert result.returncode == 127
    assert result.stderr.endswith('exec: "nope": executable file not found in $PATH\n')


def test_unknown_container_error(runtime: Runtime) -> None:
    result = _cli(runtime.state_dir, "logs", "berth-missing")
    assert (result.returncode, result.stderr) == (
        1,
        "Error response from daemon: No such container: berth-missing\n",
    )


def test_detached_run_exec_inspect_stop_rm(runtime: Runtime, busybox: Image) -> None:
    state = runtime.state_dir
    cid = _cli(
        state,
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "berth-cli",
        "-e",
        "A=1",
        "--memory",
        "32m",
        "busybox",
        "sleep",
        "30",
    ).stdout.strip()
    try:
        assert len(cid) == 64
        exec_ = _cli(state, "exec", "berth-cli", "sh", "-c", "echo $A; exit 2")
        assert (exec_.returncode, exec_.stdout) == (2, "1\n")
        info = json.loads(_cli(state, "inspect", "berth-cli").stdout)[0]
        assert info["State"]["Running"] is True and info["HostConfig"]["Memory"] == 32 << 20
        assert "berth-cli" in _cli(state, "stats", "--no-stream", "berth-cli").stdout
        assert _cli(state, "stop", "-t", "0.2", "berth-cli").stdout == "berth-cli\n"
        assert json.loads(_cli(state, "inspect", "berth-cli").stdout)[0]["State"]["ExitCode"] == 137
    finally:
        assert _cli(state, "rm", "-f", "berth-cli").returncode == 0


def test_volume_commands(runtime: Runtime) -> None:
    state = runtime.state_dir
    assert _cli(state, "volume", "create", "berth-cli-vol").stdout == "berth-cli-vol\n"
    assert "berth-cli-vol" in _cli(state, "volume", "ls").stdout
    assert (
        json.loads(_cli(state, "volume", "inspect", "berth-cli-vol").stdout)[0]["Name"]
        == "berth-cli-vol"
    )
    assert _cli(state, "volume", "rm", "berth-cli-vol").returncode == 0
    missing = _cli(state, "volume", "inspect", "berth-cli-vol")
    assert missing.stderr == "Error response from daemon: get berth-cli-vol: no such volume\n"


def test_ulimits_are_set_and_one_above_the_hosts_hard_limit_is_refused(
    runtime: Runtime, busybox: Image
) -> None:
    state = runtime.state_dir
    run = _cli(state, "run", "--rm", "--network", "none", "--ulimit", "nofile=512:1024",
               "--ulimit", "core=0", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -c")  # fmt: skip
    assert (run.returncode, run.stdout.split()) == (0, ["512", "1024", "0"])
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    above = _cli(state, "run", "--rm", "--network", "none", "--ulimit", f"nofile={hard + 1}",
                 "busybox", "true")  # fmt: skip
    assert (above.returncode, above.stderr) == (
        125,
        "berth-agent: Error response from daemon: failed to create task for container: "
        f"setrlimit nofile={hard + 1}:{hard + 1}: above this host's hard limit of {hard}\n",
    )
    assert [c for c in runtime.list(all=True)] == []
    for bad, message in (("nofiles=1", "invalid ulimit type: nofiles"),
                         ("nofile=2:1", "ulimit soft limit must be less than or equal to hard limit: nofile=2:1")):  # fmt: skip
        refused = _cli(state, "run", "--rm", "--ulimit", bad, "busybox", "true")
        assert (refused.returncode, refused.stderr) == (
            1,
            f"Error response from daemon: {message}\n",
        )


def test_env_file_top_and_logs_since_until(
    runtime: Runtime, busybox: Image, tmp_path: Path
) -> None:
    state = runtime.state_dir
    env_file = tmp_path / "app.env"
    env_file.write_text("# settings\nMODE=prod\n\nGREETING=hello world\nFROM_HOST\nNOT_SET\n")
    run = subprocess.run(
        [sys.executable, "-m", "runtime_agent", "run", "-d", "--name", "berth-more", "--network",
         "none", "--env-file", str(env_file), "-e", "MODE=dev", "busybox", "sh", "-c",
         'echo "$MODE/$GREETING/$FROM_HOST/${NOT_SET-unset}"; sleep 0.3; echo second; '
         "sleep 30 & exec sleep 31"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "BERTH_AGENT_STATE": str(state), "BERTH_BRIDGE": BRIDGE,
             "BERTH_SUBNET": SUBNET, "FROM_HOST": "inherited"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    try:
        c = runtime.get("berth-more")
        deadline = time.monotonic() + 10
        while len(list(runtime.logs(c))) < 2 or len(runtime.top(c)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        first, second = list(runtime.logs(c))
        # -e comes after the file, and wins.
        assert first.data == b"dev/hello world/inherited/unset\n"
        processes = {p.command: p for p in runtime.top(c)}
        assert set(processes) == {"sleep 30", "sleep 31"}
        assert processes["sleep 31"].pid == c.state.pid
        assert processes["sleep 30"].ppid == c.state.pid
        assert processes["sleep 30"].user == "root"
        top = _cli(state, "top", "berth-more").stdout.splitlines()
        assert top[0].split() == ["UID", "PID", "PPID", "STIME", "TIME", "CMD"]
        assert len(top) == 3
        # Between the two lines' own times: --since keeps the second, --until the first.
        middle = (
            datetime.fromisoformat(first.time)
            + (datetime.fromisoformat(second.time) - datetime.fromisoformat(first.time)) / 2
        )
        since = _cli(state, "logs", "--since", middle.isoformat(), "berth-more")
        until = _cli(state, "logs", "--until", middle.isoformat(), "berth-more")
        assert (since.stdout, until.stdout) == ("second\n", "dev/hello world/inherited/unset\n")
        assert _cli(state, "logs", "--since", "1h", "berth-more").stdout.count("\n") == 2
    finally:
        assert _cli(state, "rm", "-f", "berth-more").returncode == 0


def test_create_port_diff_rename_and_container_prune(runtime: Runtime, busybox: Image) -> None:
    state = runtime.state_dir
    tcp, udp = _port(4), _port(5)
    created = _cli(state, "create", "--name", "berth-made", "-p", f"127.0.0.1:{tcp}:80",
                   "-p", f"{udp}:53/udp", "busybox", "sh", "-c",
                   "echo new > /added; rm /etc/group; echo extra >> /etc/passwd")  # fmt: skip
    assert created.returncode == 0, created.stderr
    container_id = created.stdout.strip()
    assert runtime.get(container_id).state.status == "created"
    assert _cli(state, "port", "berth-made").stdout == (
        f"80/tcp -> 127.0.0.1:{tcp}\n53/udp -> 0.0.0.0:{udp}\n"
    )
    assert _cli(state, "port", "berth-made", "53/udp").stdout == f"0.0.0.0:{udp}\n"
    assert _cli(state, "start", "berth-made").returncode == 0
    assert runtime.wait(runtime.get("berth-made"), timeout=10) == 0
    assert _cli(state, "diff", "berth-made").stdout.splitlines() == [
        "A /added", "C /etc", "D /etc/group", "C /etc/passwd",
    ]  # fmt: skip
    assert _cli(state, "rename", "berth-made", "berth-renamed").returncode == 0
    assert runtime.get("berth-renamed").id == container_id
    taken = _cli(state, "run", "-d", "--name", "berth-renamed", "busybox", "true")
    assert taken.returncode == 1 and "is already in use" in taken.stderr
    # The old name is free again.
    assert _cli(state, "create", "--name", "berth-made", "busybox", "true").returncode == 0
    pruned = _cli(state, "container", "prune")
    assert pruned.stdout.splitlines()[0] == "Deleted Containers:"
    assert container_id in pruned.stdout.splitlines()
    assert runtime.list(all=True) == []


def test_rmi_untags_then_deletes_and_image_prune(
    runtime: Runtime, busybox: Image, make_layout: Callable[..., Path]
) -> None:
    state = runtime.state_dir
    # An image of its own (another config) that shares every layer with the session's busybox.
    layout = make_layout("rmi", config={"Env": ["PATH=/bin", "MADE_FOR=rmi"]})
    for name in ("berth-rmi-one", "berth-rmi-two"):  # one image, two names
        runtime.images.import_layout(layout, tag="latest", name=name)
    assert _cli(state, "rmi", "berth-rmi-one").stdout == "Untagged: berth-rmi-one:latest\n"
    used = _cli(state, "run", "-d", "--name", "berth-rmi-user", "berth-rmi-two", "sleep", "30")
    assert used.returncode == 0
    try:
        refused = _cli(state, "rmi", "berth-rmi-two")
        assert refused.returncode == 1 and "is in use by container" in refused.stderr
    finally:
        assert _cli(state, "rm", "-f", "berth-rmi-user").returncode == 0
    removed = _cli(state, "rmi", "berth-rmi-two").stdout.splitlines()
    assert removed[0] == "Untagged: berth-rmi-two:latest"
    assert removed[-1].startswith("Deleted: sha256:")
    # The busybox image keeps the layers they shared.
    assert runtime.images.get("busybox").id == busybox.id
    assert all(Path(d).is_dir() for d in busybox.layer_dirs)
    assert _cli(state, "image", "prune").stdout.startswith("Total reclaimed space: ")


def test_tag_names_an_image_and_moves_a_tag(runtime: Runtime, busybox: Image) -> None:
    state = runtime.state_dir
    assert _cli(state, "tag", "busybox", "127.0.0.1:5000/team/box:v1").returncode == 0
    try:
        assert runtime.images.get("127.0.0.1:5000/team/box:v1").id == busybox.id
        refused = _cli(state, "tag", "busybox", "Team/Box")
        assert (refused.returncode, refused.stderr) == (
            1, "Error response from daemon: invalid reference format: 'Team/Box'\n"
        )  # fmt: skip
    finally:
        assert _cli(state, "rmi", "127.0.0.1:5000/team/box:v1").returncode == 0
    assert runtime.images.get("busybox").id == busybox.id
