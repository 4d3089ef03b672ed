"""The per-container supervisor: a forked, detached process that starts, watches and restarts."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import selectors
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from runtime_agent.container.process import Plan, exit_code_for, setup_and_exec, stage_mounts
from runtime_agent.container.state import Container, Status
from runtime_agent.errors import StartFailed
from runtime_agent.isolation.network import BridgeNetwork
from runtime_agent.kernel import linux
from runtime_agent.kernel.cgroups import Cgroup, Resources
from runtime_agent.trace import mark

LOG_LINE_MAX = 16 * 1024  # like Docker's json-file driver, longer lines are split


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def process_start_time(pid: int) -> int:
    """Clock ticks since boot at which ``pid`` started: tells a live process from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(data[data.rindex(b")") + 2 :].split()[19])


def spawn(
    container: Container,
    plan: Plan,
    cgroup: Cgroup,
    network: BridgeNetwork | None,
    on_final_exit: Callable[[], None] | None,
) -> int:
    """Fork a detached shim that starts the container; returns the container's host pid."""
    return decode_report(spawn_report(container, plan, cgroup, network, on_final_exit, detach=True))


def detach(keep: list[int]) -> None:
    """Default signals and no descriptor but ``keep``: a shim holds nothing of the agent's."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    # Whatever the agent had open (sockets, locks, test captures) must not be held by us.
    low = 3
    for fd in sorted({fd for fd in keep if fd >= 3}):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def decode_report(data: bytes) -> int:
    """The pid from a report; a failure line anywhere (the child's, after the pid) wins."""
    reports = [json.loads(line) for line in data.splitlines() if line.strip()]
    for report in reports:
        if "error" in report:
            raise StartFailed(report["error"], report.get("exit_code", 128))
    if not reports:
        raise StartFailed("shim exited before starting the container")
    return int(reports[0]["pid"])


def spawn_report(
    container: Container,
    plan: Plan,
    cgroup: Cgroup,
    network: BridgeNetwork | None,
    on_final_exit: Callable[[], None] | None,
    detach: bool,
    report_w: int = -1,
) -> bytes:
    """Fork the shim and return its start report; ``detach`` double-forks so the caller
    (the agent) need not reap it, which the zygote, ignoring SIGCHLD, does not need."""
    """With ``report_w`` given, the report goes there (to the agent) and b"" is returned."""
    report_r = -1
    if report_w < 0:
        report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if report_r >= 0:
                os.close(report_r)
            os.setsid()
            # The second fork leaves the shim to init, so the caller (the agent) may go away.
            if not detach or os.fork() == 0:
                Shim(container, plan, cgroup, network, on_final_exit).run(report_w)
            code = 0
        finally:
            os._exit(code)
    os.close(report_w)
    if detach:
        os.waitpid(pid, 0)
    if report_r < 0:
        return b""
    chunks = []
    while chunk := os.read(report_r, 65536):
        chunks.append(chunk)
    os.close(report_r)
    return b"".join(chunks)


@dataclass
class Launch:
    """A forked container process and the shim's ends of the pipes to it."""

    pid: int
    out_r: int
    err_r: int
    fail_r: int
    cgroup_w: int
    ready_r: int = -1
    go_w: int = -1
    plan_w: int = -1  # forked ahead: where its plan goes
    console: int = -1  # where an interactive container's process sends its stdin's other end

    def fds(self) -> list[int]:
        fds = (self.out_r, self.err_r, self.fail_r, self.cgroup_w, self.ready_r, self.go_w)
        return [fd for fd in (*fds, self.plan_w, self.console) if fd >= 0]

    def discard(self) -> None:
        """Leave a process forked ahead unused: it exits on seeing its plan channel closed."""
        for fd in self.fds():
            os.close(fd)
        os.waitpid(self.pid, 0)


def fork_container(own_pidns: int, plan: Plan | None, report_fd: int, staging: str = "") -> Launch:
    """Fork the container process as PID 1 of a new PID namespace.

    Without a ``plan`` it is forked ahead of its start: it makes its UTS, IPC and network
    namespaces at once (and, given a ``staging`` directory, its mount namespace with /dev,
    /proc and /sys in it) and waits for the pickled start request on ``plan_w`` (with the
    agent's report pipe attached), so that none of that is on the start path.
    """
    # Only the next child enters the new PID namespace.
    os.unshare(linux.CLONE_NEWPID)
    fail_r, fail_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    cg_r, cg_w = os.pipe()
    ready_r = ready_w = go_r = go_w = plan_r = plan_w = console_r = console_w = -1
    if plan is None or plan.attachment:
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
    if plan is None or plan.spec.tty or plan.spec.open_stdin:
        import socket  # the zygote has it; a CLI's shim forks with its plan and needs none

        if plan is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            plan_w, plan_r = ours.detach(), theirs.detach()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        console_r, console_w = ours.detach(), theirs.detach()
    mark("shim: fork")
    pid = os.fork()
    if pid == 0:
        code = 128
        try:
            mark("child: forked")
            for fd in (fail_r, out_r, err_r, ready_r, go_w, cg_w, plan_w, console_r):
                if fd >= 0:
                    os.close(fd)
            stdin = os.open("/dev/null", os.O_RDONLY)
            os.dup2(stdin, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            unshared = host_net = 0
            if plan is None:
                host_net = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                unshared = linux.CLONE_NEWUTS | linux.CLONE_NEWIPC | linux.CLONE_NEWNET
                if staging:
                    unshared |= linux.CLONE_NEWNS
                os.unshare(unshared)
                linux.link_up("lo")
                if staging:
                    # What the standby compares with the host's mounts at start.
                    os.write(plan_r, str(mount_view()).encode())
                    try:
                        stage_mounts(staging)
                    except OSError:
                        staging = ""  # mounted at start instead, as without a standby
                plan, report_fd = _await_plan(plan_r)
                if not plan.attachment:
                    os.close(ready_w)
                    os.close(go_r)
                    ready_w = go_r = -1
            setup_and_exec(plan, ready_w, go_r, cg_r, unshared, host_net, staging, console_w)
        except BaseException as e:  # noqa: BLE001 - reported to the shim through the pipe
            code = exit_code_for(e)
            message = getattr(e, "message", None) or str(e)
            failure = json.dumps({"error": message, "exit_code": code}).encode()
            os.write(fail_w, failure)
            if report_fd >= 0:
                os.write(report_fd, failure + b"\n")
        finally:
            os._exit(code)
    # Back in our own PID namespace so that helpers we spawn (ip) see host pids.
    os.setns(own_pidns, linux.CLONE_NEWPID)
    for fd in (fail_w, out_w, err_w, ready_w, go_r, cg_r, plan_r, console_w):
        if fd >= 0:
            os.close(fd)
    return Launch(pid, out_r, err_r, fail_r, cg_w, ready_r, go_w, plan_w, console_r)


def receive_console(channel_fd: int) -> int:
    """The other end of an interactive container's stdin, once its process has sent it (-1
    if it failed first); the channel is closed either way."""
    import socket

    channel = socket.socket(fileno=channel_fd)
    try:
        _, fds, _, _ = socket.recv_fds(channel, 16, 1)
    finally:
        channel.close()
    if not fds:
        return -1
    os.set_inheritable(fds[0], False)
    return fds[0]


def mount_view() -> int:
    """This mount namespace's mounts as a comparable value: each mount with the chain of mounts
    it sits on, without the ids, order and propagation fields that differ in a copy."""
    with open("/proc/self/mountinfo", "rb") as f:
        lines = f.read().splitlines()
    mounts: dict[bytes, tuple[bytes, tuple[bytes, ...]]] = {}
    for line in lines:
        fields = line.split(b" ")
        rest = fields.index(b"-", 6)
        mounts[fields[0]] = (fields[1], (*fields[2:6], *fields[rest + 1 :]))

    def chain(mount_id: bytes) -> tuple[tuple[bytes, ...], ...]:
        found = []
        while mount_id in mounts and len(found) <= len(mounts):
            mount_id, described = mounts[mount_id]
            found.append(described)
        return tuple(found)

    return hash(tuple(sorted(chain(mount_id) for mount_id in mounts)))


def _open_namespace(pid: int, kind: str) -> int:
    try:
        return os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return -1


def join_ahead(
    launch: Launch, cgroup: Cgroup, resources: Resources, spare: Cgroup | None = None
) -> None:
    """Put a container process into its cgroup, with its limits, and tell it so (or why not).

    A ``spare`` cgroup the process already sits in becomes the container's by renaming it;
    otherwise the cgroup is made (or kept from an earlier run) and the process moved into it.
    """
    mark("shim: forked")
    try:
        if spare is not None and cgroup.adopt(spare):
            cgroup.apply(resources)
            spare = None
        else:
            cgroup.create(resources)
            cgroup.join(launch.pid)
        mark("shim: cgroup joined")
        os.write(launch.cgroup_w, b"ok")
    except Exception as e:  # noqa: BLE001 - the container process turns it into a failed start
        message = getattr(e, "message", None) or str(e)
        os.write(launch.cgroup_w, f"joining the container's cgroup: {message}".encode()[:4000])
    finally:
        os.close(launch.cgroup_w)
        launch.cgroup_w = -1
        if spare is not None:
            # Not adopted: emptied by the join above, or left by a failed start either way.
            with contextlib.suppress(OSError):
                spare.destroy()


def _await_plan(plan_r: int) -> tuple[Plan, int]:
    """In a container process forked ahead: its plan and the agent's report pipe."""
    import pickle
    import socket

    channel = socket.socket(fileno=plan_r)
    payload, fds, _, _ = socket.recv_fds(channel, 1 << 20, 1)
    channel.close()
    if not payload:
        os._exit(0)  # the shim went away unused
    report_fd = fds[0] if fds else -1
    if report_fd >= 0:
        os.set_inheritable(report_fd, False)
    return pickle.loads(payload), report_fd


class Shim:
    def __init__(
        self,
        container: Container,
        plan: Plan,
        cgroup: Cgroup,
        network: BridgeNetwork | None,
        on_final_exit: Callable[[], None] | None,
    ) -> None:
        self.container = container
        self.plan = plan
        self.cgroup = cgroup
        self.network = network
        self.on_final_exit = on_final_exit

    def run(
        self,
        report_fd: int,
        ahead: Launch | None = None,
        own_pidns: int = -1,
        done_fd: int = -1,
    ) -> NoReturn:
        """Supervise until the container is done; ``ahead`` is a container process forked
        before the request (``own_pidns`` then open already), which has its plan."""
        try:
            mark("shim: run")
            keep = [report_fd, own_pidns, done_fd, *(ahead.fds() if ahead else [])]
            detach(keep)
            if own_pidns < 0:
                own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            self._supervise(report_fd, own_pidns, ahead, done_fd)
        finally:
            os._exit(0)

    def _supervise(
        self, report_fd: int, own_pidns: int, ahead: Launch | None, done_fd: int
    ) -> None:
        container = self.container
        policy = self.plan.spec.restart
        me, my_start = os.getpid(), process_start_time(os.getpid())
        quick_restarts = 0
        while True:
            oom_before = self.cgroup.oom_kills()
            try:
                pid, out_r, err_r, fail_r, console = self._launch(own_pidns, report_fd, ahead)
                # Held until the exit is recorded: the container's last process then does not
                # unmount its root filesystem and the rest on its way out (tens of mounts and
                # an RCU grace period before its parent may reap it); we do, afterwards.
                mount_ns = _open_namespace(pid, "mnt") if ahead else -1
                ahead = None
            except BaseException as e:  # noqa: BLE001 - every failure is reported, none escapes
                message = getattr(e, "message", None) or str(e)
                with container.update() as st:
                    if st.status != Status.EXITED:
                        container.transition(st, Status.EXITED)
                    st.exit_code, st.error, st.finished_at = exit_code_for(e), message, now()
                    st.shim_pid = 0
                if report_fd >= 0:
                    os.write(
                        report_fd,
                        json.dumps({"error": message, "exit_code": exit_code_for(e)}).encode()
                        + b"\n",
                    )
                return
            started = time.monotonic()
            with container.update() as st:
                container.transition(st, Status.RUNNING)
                st.pid, st.shim_pid, st.shim_start = pid, me, my_start
                st.started_at, st.finished_at, st.error = now(), "", ""
                st.exit_code, st.oom_killed = 0, False
                st.generation += 1
                if self.plan.spec.healthcheck:
                    st.health_status, st.health_failing_streak, st.health_log = "starting", 0, []
            if report_fd >= 0:
                # The caller reads on until the child's exec closes its copy of this pipe.
                os.write(report_fd, json.dumps({"pid": pid}).encode() + b"\n")
                os.close(report_fd)
                report_fd = -1
            mark("shim: reported")
            failure = read_all(fail_r)
            mark("shim: exec seen")
            os.close(fail_r)
            spec = self.plan.spec
            if console >= 0 and (spec.tty or spec.open_stdin):
                # Sent before the exec, so there already (or the channel closed by a failure).
                console = receive_console(console)
            elif console >= 0:
                os.close(console)
                console = -1
            if failure:
                os.waitpid(pid, 0)
                os.close(out_r)
                os.close(err_r)
                if console >= 0:
                    os.close(console)
                report = json.loads(failure)
                with container.update() as st:
                    container.transition(st, Status.EXITED)
                    st.exit_code, st.error, st.finished_at = (
                        report["exit_code"],
                        report["error"],
                        now(),
                    )
                    st.pid = st.shim_pid = 0
                return
            self._pump_logs(out_r, err_r, console, pid)
            _, status = os.waitpid(pid, 0)
            mark("shim: child exited")
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code
            oom = self.cgroup.oom_kills() > oom_before
            with container.update() as st:
                st.exit_code, st.oom_killed, st.finished_at, st.pid = code, oom, now(), 0
                st.paused = False
                restart = not st.stop_requested and (
                    policy.name in ("always", "unless-stopped")
                    or (
                        policy.name == "on-failure"
                        and code != 0
                        and (not policy.max_retries or st.restart_count < policy.max_retries)
                    )
                )
                if restart:
                    container.transition(st, Status.RESTARTING)
                    st.restart_count += 1
                else:
                    container.transition(st, Status.EXITED)
                    st.shim_pid = 0
            mark("shim: exit recorded")
            if done_fd >= 0:
                # The agent's wait wakes now, not after this process has torn itself down.
                os.close(done_fd)
                done_fd = -1
            if mount_ns >= 0:
                os.close(mount_ns)
            if not restart:
                # As Docker's runtime does when a container exits, and after the agent's wait
                # has woken: removing the container then finds nothing left to do here.
                self.cgroup.remove_if_empty()
                break
            # Docker's backoff: doubling from 100 ms, reset after a run of ten seconds or more.
            quick_restarts = 0 if time.monotonic() - started >= 10 else quick_restarts + 1
            if not self._backoff(min(0.1 * 2 ** (quick_restarts - 1), 60.0)):
                break
        if self.on_final_exit and self.plan.spec.auto_remove:
            self.on_final_exit()

    def _backoff(self, delay: float) -> bool:
        """Sleep before a restart; False if a stop arrived meanwhile (the container stays exited)."""
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            if self.container.state.stop_requested:
                with self.container.update() as st:
                    if st.status == Status.RESTARTING:
                        self.container.transition(st, Status.EXITED)
                        st.shim_pid = 0
                return False
        return True

    def _launch(
        self, own_pidns: int, report_fd: int, ahead: Launch | None = None
    ) -> tuple[int, int, int, int, int]:
        plan = self.plan
        launch = ahead or fork_container(own_pidns, plan, report_fd)
        pid, ready_r, go_w = launch.pid, launch.ready_r, launch.go_w
        if launch.cgroup_w >= 0:  # not joined by the zygote's standby already
            join_ahead(launch, self.cgroup, plan.spec.resources)
        try:
            if plan.attachment and self.network and os.read(ready_r, 1) == b"1":
                try:
                    self.network.attach(self.container.id, pid)
                    os.write(go_w, b"ok")
                except Exception as e:  # noqa: BLE001 - the child turns it into a start failure
                    os.write(go_w, str(e).encode()[:4000])
        finally:
            for fd in (ready_r, go_w):
                if fd >= 0:
                    os.close(fd)
        return pid, launch.out_r, launch.err_r, launch.fail_r, launch.console

    def _pump_logs(self, out_r: int, err_r: int, console: int = -1, pid: int = 0) -> None:
        """Copy stdout/stderr into the log as JSON lines until both pipes close; with a
        ``console`` (a terminal's master, or the write end of a stdin pipe), serve attach."""
        log_fd = os.open(
            self.container.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640
        )
        streams = {out_r: "stdout", err_r: "stderr"}
        terminal = self.plan.spec.tty and console >= 0
        if terminal:
            streams[console] = "stdout"  # a terminal mixes both, as under Docker
        pending = dict.fromkeys(streams, b"")
        sel = selectors.DefaultSelector()
        for fd in streams:
            sel.register(fd, selectors.EVENT_READ)
        server = None
        if console >= 0:
            from runtime_agent.container.attach import AttachServer

            server = AttachServer(self.container.dir, console, terminal)
            server.register(sel)
        health = None
        if self.plan.spec.healthcheck and pid:
            from runtime_agent.container.health import HealthChecker

            health = HealthChecker(
                self.container, self.plan.spec.healthcheck, pid, self.cgroup, self.plan.seccomp_bpf
            )
            health.register(sel)
        try:
            while streams:
                events = sel.select(health.seconds_to_next() if health else None)
                if health:
                    health.tick()
                for key, _ in events:
                    if key.data is not None:  # an attach connection or the listening socket
                        key.data()
                        continue
                    fd = key.fd
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    except OSError as error:
                        if error.errno != errno.EIO:
                            raise
                        data = b""  # a terminal whose every slave end has closed
                    if server and data:
                        server.output(data, streams[fd])
                    if server and not data and fd == console:
                        server.stdin_fd = -1  # closed below, with the output it also was
                    if data:
                        pending[fd] += data
                        lines = pending[fd].split(b"\n")
                        pending[fd] = lines.pop()
                        complete = [line + b"\n" for line in lines]
                        while len(pending[fd]) >= LOG_LINE_MAX:
                            complete.append(pending[fd][:LOG_LINE_MAX])
                            pending[fd] = pending[fd][LOG_LINE_MAX:]
                    else:
                        complete = [pending[fd]] if pending[fd] else []
                        pending[fd] = b""
                        sel.unregister(fd)
                        os.close(fd)
                    if complete:
                        os.write(log_fd, _encode(complete, streams[fd]))
                    if not data:
                        del streams[fd]
        finally:
            if health:
                health.close()
            if server:
                server.close()
            sel.close()
            os.close(log_fd)


def _encode(lines: list[bytes], stream: str) -> bytes:
    stamp = now()
    return b"".join(
        json.dumps(
            {"log": line.decode("utf-8", "surrogateescape"), "stream": stream, "time": stamp}
        ).encode()
        + b"\n"
        for line in lines
    )
