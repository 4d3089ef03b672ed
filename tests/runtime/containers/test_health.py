"""Health checks: the image's HEALTHCHECK or --health-*, run in the container while it runs."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime_agent.container.spec import HealthCheck, HealthOptions, parse_duration
from runtime_agent.container.state import Container
from runtime_agent.errors import InvalidSpec
from runtime_agent.images import Image
from runtime_agent.runtime.api import Runtime
from tests.runtime.containers.test_lifecycle import _cli

Make = Callable[..., Container]


def health_of(runtime: Runtime, c: Container) -> dict[str, Any]:
    return runtime.inspect(c)["State"]["Health"]


def wait_for_health(
    runtime: Runtime, c: Container, status: str, timeout: float = 15
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (health := health_of(runtime, c))["Status"] != status:
        assert time.monotonic() < deadline, f"never {status}: {health}"
        time.sleep(0.02)
    return health


def checks(command: str, **settings: Any) -> HealthOptions:
    return HealthOptions(cmd=command, **{"interval": 0.1, **settings})


def test_a_container_turns_healthy_then_unhealthy_after_its_retries(
    runtime: Runtime, container: Make
) -> None:
    c = container(
        "sh", "-c", "sleep 0.5; touch /tmp/ready; sleep 1; rm /tmp/ready; sleep 30",
        health=checks("test -f /tmp/ready", retries=3),
    )  # fmt: skip
    assert health_of(runtime, c)["Status"] == "starting"
    healthy = wait_for_health(runtime, c, "healthy")
    assert (healthy["FailingStreak"], healthy["Log"][-1]["ExitCode"]) == (0, 0)
    unhealthy = wait_for_health(runtime, c, "unhealthy")
    assert unhealthy["FailingStreak"] == 3
    assert [entry["ExitCode"] for entry in unhealthy["Log"][-3:]] == [1, 1, 1]
    assert len(unhealthy["Log"]) <= 5  # only the last few are kept


def test_failures_in_the_start_period_do_not_count(runtime: Runtime, container: Make) -> None:
    c = container("sleep", "30", health=checks("exit 1", retries=1, start_period=1.0))
    time.sleep(0.6)
    health = health_of(runtime, c)
    assert health["Log"] and health["Log"][0]["ExitCode"] == 1  # checked, and failing ...
    assert (health["Status"], health["FailingStreak"]) == ("starting", 0)  # ... but not counted
    wait_for_health(runtime, c, "unhealthy")


def test_a_check_that_runs_out_of_time_fails_and_is_killed(
    runtime: Runtime, container: Make
) -> None:
    c = container("sleep", "30", health=checks("echo probing; sleep 7", timeout=0.3, retries=1))
    deadline = time.monotonic() + 15
    while not (probes := sleeping(runtime, c)):
        assert time.monotonic() < deadline, "the check never ran"
        time.sleep(0.01)
    health = wait_for_health(runtime, c, "unhealthy")
    entry = health["Log"][0]
    assert (entry["ExitCode"], entry["Output"]) == (-1, "Health check exceeded timeout (0.3s)")
    # The check's command went with it (the next check may have started one of its own since).
    assert not probes & sleeping(runtime, c)


def sleeping(runtime: Runtime, c: Container) -> set[int]:
    """The container's processes running `sleep 7` (a killed one, not yet reaped, runs nothing)."""
    found = set()
    for pid in runtime.cgroup(c.id).pids():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            if Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x007\x00":
                found.add(pid)
    return found


def test_a_check_that_cannot_run_reports_why(
    runtime: Runtime, container: Make, make_layout: Callable[..., Path]
) -> None:
    layout = make_layout("probe-missing", config={"Healthcheck": {
        "Test": ["CMD", "/no/such/probe"], "Interval": 100_000_000, "Retries": 1,
    }})  # fmt: skip
    image = runtime.images.import_layout(layout, tag="latest", name="berth-probe-missing")
    c = container("sleep", "30", image=image)
    entry = wait_for_health(runtime, c, "unhealthy")["Log"][0]
    assert entry["ExitCode"] == 127
    assert (
        entry["Output"] == 'exec: "/no/such/probe": stat /no/such/probe: no such file or directory'
    )


def test_the_images_check_is_used_unless_disabled(
    runtime: Runtime, container: Make, make_layout: Callable[..., Path]
) -> None:
    layout = make_layout("healthy", config={"Healthcheck": {
        "Test": ["CMD", "true"], "Interval": 100_000_000, "Retries": 2,
    }})  # fmt: skip
    image = runtime.images.import_layout(layout, tag="latest", name="berth-healthy")
    checked = container("sleep", "30", image=image)
    wait_for_health(runtime, checked, "healthy")
    assert runtime.inspect(checked)["Config"]["Healthcheck"] == {
        "Test": ["CMD", "true"], "Interval": 100_000_000, "Timeout": 30_000_000_000,
        "Retries": 2, "StartPeriod": 0,
    }  # fmt: skip
    unchecked = container("sleep", "30", image=image, health=HealthOptions(disabled=True))
    assert "Health" not in runtime.inspect(unchecked)["State"]


def test_settings_are_checked_and_durations_parsed() -> None:
    assert parse_duration("1m30s") == 90
    assert parse_duration("250ms") == 0.25
    with pytest.raises(InvalidSpec) as bad:
        parse_duration("10")
    assert bad.value.message == 'invalid duration "10": use a number and a unit, as 30s or 1m30s'
    overridden = HealthOptions(cmd="curl -f localhost", retries=5).applied_to(
        HealthCheck(["CMD", "true"], interval=10.0)
    )
    assert overridden == HealthCheck(["CMD-SHELL", "curl -f localhost"], interval=10.0, retries=5)
    assert HealthCheck.from_image({"Test": ["NONE"]}) is None


def test_cli_flags_ps_and_inspect(runtime: Runtime, busybox: Image) -> None:
    state = runtime.state_dir
    run = _cli(state, "run", "-d", "--name", "berth-health", "--network", "none",
               "--health-cmd", "true", "--health-interval", "100ms", "busybox", "sleep", "30")  # fmt: skip
    assert run.returncode == 0, run.stderr
    try:
        deadline = time.monotonic() + 15
        while "(healthy)" not in _cli(state, "ps").stdout:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        info = json.loads(_cli(state, "inspect", "berth-health").stdout)[0]
        assert info["State"]["Health"]["Status"] == "healthy"
    finally:
        assert _cli(state, "rm", "-f", "berth-health").returncode == 0
    refused = _cli(state, "run", "--rm", "--network", "none", "--health-cmd", "true",
                   "--health-interval", "0s", "busybox", "true")  # fmt: skip
    assert (refused.returncode, refused.stderr) == (
        1, "Error response from daemon: Interval in Healthcheck cannot be less than 1ms (interval)\n"
    )  # fmt: skip
