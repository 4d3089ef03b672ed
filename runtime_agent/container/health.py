"""Health checks (Docker's HEALTHCHECK), run by a container's shim while it runs.

Each check is an exec of the test command in the container, started from the shim's event
loop: the loop waits on the probe's output and on a timer, so neither output nor checks hold
up the other. The outcome goes into the container's state as Docker reports it.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from runtime_agent.container.enter import NAMESPACES, USERNS_NAMESPACES, exec_child

if TYPE_CHECKING:
    from runtime_agent.container.spec import HealthCheck
    from runtime_agent.container.state import Container
    from runtime_agent.kernel.cgroups import Cgroup

LOG_ENTRIES = 5  # Docker keeps the last five results
OUTPUT_LIMIT = 4096  # and at most this much of each one's output


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _Probe:
    def __init__(self, pid: int, output_fd: int, deadline: float) -> None:
        self.pid, self.output_fd, self.deadline = pid, output_fd, deadline
        self.started_at = _now()
        self.output = b""
        self.timed_out = False


class HealthChecker:
    def __init__(
        self,
        container: Container,
        check: HealthCheck,
        pid: int,
        cgroup: Cgroup,
        seccomp_bpf: bytes | None,
    ) -> None:
        self.container, self.check, self.pid = container, check, pid
        self.cgroup, self.seccomp_bpf = cgroup, seccomp_bpf
        self.started = time.monotonic()
        self.next_due = self.started + check.interval
        self.probe: _Probe | None = None
        self.selector: selectors.BaseSelector | None = None  # "starting" is set with the run

    def register(self, selector: selectors.BaseSelector) -> None:
        self.selector = selector

    def seconds_to_next(self) -> float:
        when = self.probe.deadline if self.probe else self.next_due
        return max(0.0, when - time.monotonic())

    def tick(self) -> None:
        """Start a check that is due, or end one that has run out of time."""
        now = time.monotonic()
        if self.probe is None and now >= self.next_due:
            if self.container.state.paused:
                self.next_due = now + self.check.interval  # Docker skips a paused container
            else:
                self._start()
        elif self.probe is not None and not self.probe.timed_out and now >= self.probe.deadline:
            self.probe.timed_out = True
            # The exec's first process passes it on to the command as SIGKILL (see exec_child).
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.probe.pid, signal.SIGTERM)

    def _start(self) -> None:
        spec = self.container.spec
        names = USERNS_NAMESPACES if spec.private_userns else NAMESPACES
        try:
            ns_fds = [
                os.open(f"/proc/{self.pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in names
            ]
        except FileNotFoundError:
            return  # the container is on its way out
        procs = self.cgroup.procs_files()
        output_r, output_w = os.pipe()
        fail_r, fail_w = os.pipe()
        child = os.fork()
        if child == 0:
            code = 126
            try:
                os.close(output_r)
                os.close(fail_r)
                exec_child(
                    spec, ns_fds, procs, self.check.argv, [], None, None, output_w, output_w,
                    fail_w, self.seccomp_bpf,
                )  # fmt: skip
            except BaseException as e:  # noqa: BLE001 - its message is the check's output
                code = getattr(e, "exit_code", 126)
                os.write(output_w, (getattr(e, "message", None) or str(e)).encode())
            finally:
                os._exit(code)
        for fd in (*ns_fds, output_w, fail_w, fail_r):
            os.close(fd)
        os.set_blocking(output_r, False)
        self.probe = _Probe(child, output_r, time.monotonic() + self.check.timeout)
        assert self.selector is not None
        self.selector.register(output_r, selectors.EVENT_READ, self._read)

    def _read(self) -> None:
        probe = self.probe
        assert probe is not None and self.selector is not None
        try:
            data = os.read(probe.output_fd, 65536)
        except BlockingIOError:
            return
        if data:
            probe.output = (probe.output + data)[:OUTPUT_LIMIT]
            return
        self.selector.unregister(probe.output_fd)
        os.close(probe.output_fd)
        _, status = os.waitpid(probe.pid, 0)
        self.probe = None
        code = os.waitstatus_to_exitcode(status)
        output = probe.output.decode(errors="replace")
        if probe.timed_out:
            code, output = -1, f"Health check exceeded timeout ({self.check.timeout:g}s)"
        self._record(probe.started_at, code, output)

    def _record(self, started_at: str, code: int, output: str) -> None:
        entry: dict[str, Any] = {
            "Start": started_at,
            "End": _now(),
            "ExitCode": code,
            "Output": output,
        }
        in_start_period = time.monotonic() - self.started < self.check.start_period
        with self.container.update() as st:
            # A new list: update() compares against a shallow copy to decide whether to write.
            st.health_log = [*st.health_log, entry][-LOG_ENTRIES:]
            if code == 0:
                st.health_status, st.health_failing_streak = "healthy", 0
            elif not in_start_period:
                # Failures while the container starts up do not count, as under Docker.
                st.health_failing_streak += 1
                if st.health_failing_streak >= self.check.retries:
                    st.health_status = "unhealthy"
        self.next_due = time.monotonic() + self.check.interval

    def close(self) -> None:
        """The container's output has ended: a check still running is stopped and reaped."""
        probe = self.probe
        if probe is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(probe.pid, signal.SIGTERM)
        if self.selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(probe.output_fd)
        os.close(probe.output_fd)
        os.waitpid(probe.pid, 0)
        self.probe = None
