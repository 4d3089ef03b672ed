"""The command line end to end, in fresh interpreters as a user would run it."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from runtime_agent.images import Image
from runtime_agent.runtime import Runtime
from tests.runtime.containers.conftest import BRIDGE, SUBNET
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
