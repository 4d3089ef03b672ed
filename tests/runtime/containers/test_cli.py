"""The command line end to end, in fresh interpreters as a user would run it."""

from __future__ import annotations

import json

from runtime_agent.images import Image
from runtime_agent.runtime import Runtime
from tests.runtime.containers.test_lifecycle import _cli


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
