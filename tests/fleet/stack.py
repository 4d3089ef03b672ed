"""A whole Berth for the fleet's end-to-end tests: portal, registry, Redis, a Celery worker, two agents.

The portal and the registry answer from a thread of the test process (tests/fixtures/registry.py),
everything else runs as child processes on loopback ports, each agent with its own state dir,
bridge and subnet.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.fleet.agents import ROOT, AgentProcess

# Short enough that the tests wait seconds, long enough for a loaded CI machine.
FLEET_ENV = {
    "BERTH_FLEET_HEARTBEAT_SECONDS": "1",
    "BERTH_FLEET_UNREACHABLE_AFTER": "4",
    "BERTH_FLEET_LEASE_SECONDS": "4",
    "BERTH_FLEET_RECONCILE_SECONDS": "2",
}


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Worker:
    """`celery -A portal worker` with beat embedded, which runs the fleet's reconcile every 2 s."""

    env: dict[str, str]
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> Worker:
        self.starts += 1
        log = (self.directory / f"worker-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "portal", "worker", "-B",
             "-s", str(self.directory / f"beat-{self.starts}"), "--pool=threads", "--concurrency=4",
             "--without-gossip", "--without-mingle", "--loglevel=INFO", f"--hostname=fleet-{os.getpid()}-{self.starts}@test"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # Its own process group: the embedded beat is a child process, which a kill of the worker
            # alone would leave running after the tests.
            start_new_session=True,
        )  # fmt: skip
        log.close()
        return self

    def kill(self) -> None:
        """Kills the worker and its beat at once, as a machine that loses them would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(15)
        self.kill()

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.directory.glob("worker-*.log")))


@dataclass
class Stack:
    url: str
    registry_host: str
    worker: Worker
    agents: dict[str, AgentProcess] = field(default_factory=dict)

    def api(self, auth: tuple[str, str]) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", auth=auth, timeout=30)
