"""A small, long-lived helper interpreter that forks container shims for the agent.

Forking costs grow with the forking process's memory: a warm agent (tens of MiB) takes several
milliseconds per fork, this helper about one. The agent starts it once and sends it each start.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pickle
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runtime_agent.container import shim
from runtime_agent.container.state import BLANK_PREFIX, Container, make_blank
from runtime_agent.kernel.cgroups import Cgroup, CgroupV1, Resources
from runtime_agent.kernel.cgroups.v1 import hierarchies
from runtime_agent.trace import mark

SPARE_PREFIX = "standby-"
RM = shutil.which("rm") or "/bin/rm"


class ZygoteClient:
    """The agent's end: starts the helper on first use and hands each start to a shim that the
    helper forked in advance, so neither a fork nor a hop through the helper is on the start path."""

    def __init__(
        self,
        spare_cgroups: tuple[str, Path] | None = None,
        staging: Path | None = None,
        tidy: tuple[Path, Path] | None = None,
        preload: tuple[str, ...] = (),
    ) -> None:
        """``spare_cgroups`` (root, mount) of a v1 hierarchy: each standby then puts its process
        forked ahead into a cgroup of its own at once, renamed to the container's on start.
        ``staging``, an empty directory: the process forked ahead mounts /dev, /proc and /sys
        there in a mount namespace of its own. ``tidy`` (a trash and a scratch directory): on
        :meth:`tidy`, the helper empties the one and keeps a blank container directory in the
        other (see :class:`runtime_agent.runtime.api.Janitor`). ``preload``: the modules that
        requests name (the caller's own, for the function a shim calls on ``--rm``), imported
        once by the helper rather than by each shim it forks."""
        self._options = {
            "spare_root": spare_cgroups[0] if spare_cgroups else "",
            "spare_mount": os.fspath(spare_cgroups[1]) if spare_cgroups else "",
            "staging": os.fspath(staging) if staging else "",
            "trash": os.fspath(tidy[0]) if tidy else "",
            "scratch": os.fspath(tidy[1]) if tidy else "",
            "preload": list(preload),
        }
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._standby: socket.socket | None = None

    def _ensure(self) -> socket.socket:
        if self._sock is not None and self._proc is not None and self._proc.poll() is None:
            return self._sock
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runtime_agent.container.zygote",
                str(theirs.fileno()),
                json.dumps(self._options),
            ],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": _package_root()},
        )
        theirs.close()
        self._sock = ours
        return ours

    def tidy(self) -> None:
        """Ask the helper, between standbys, for the file work the caller put off."""
        with self._lock, contextlib.suppress(OSError):
            self._ensure().send(b"tidy")

    def _new_standby(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            socket.send_fds(self._ensure(), [b"standby"], [theirs.fileno()])
        except OSError:
            self._sock = None  # the helper died: start a new one, once
            socket.send_fds(self._ensure(), [b"standby"], [theirs.fileno()])
        finally:
            theirs.close()
        return ours

    def spawn(self, *args: Any, done_fd: int = -1) -> int:
        """Same contract as :func:`runtime_agent.container.shim.spawn`, run by a standby shim.

        The report pipe goes with the request, so the shim and the container process answer
        us directly; the shim closes ``done_fd`` (if given) once it has recorded the exit.
        """
        container, plan, *rest = args
        # A container with a user namespace needs its namespaces made inside that one, not
        # the host's the process forked ahead made: the first byte tells the shim to fork anew.
        fresh = b"F" if plan.host_root_id is not None else b"A"
        # The plan apart, for the container process, which needs nothing else: unpickling
        # the rest (paths, an ip_network, the cgroup) cost it half a millisecond.
        plan_data = pickle.dumps(plan)
        shim_data = pickle.dumps((container.dir, *rest))
        payload = fresh + len(plan_data).to_bytes(4, "big") + plan_data + shim_data
        report_r, report_w = os.pipe()
        fds = [report_w, done_fd] if done_fd >= 0 else [report_w]
        try:
            with self._lock:
                standby, self._standby = self._standby, None
                try:
                    socket.send_fds(standby or self._new_standby(), [payload], fds)
                except OSError:
                    # A standby whose helper went away; a fresh one from a fresh helper.
                    socket.send_fds(self._new_standby(), [payload], fds)
                finally:
                    if standby is not None:
                        standby.close()
            os.close(report_w)
            report_w = -1
            data = shim.read_all(report_r)
            mark("start: report read")
        finally:
            os.close(report_r)
            if report_w >= 0:
                os.close(report_w)
            with self._lock:
                if self._standby is None:
                    self._standby = self._new_standby()
        return shim.decode_report(data)

    def close(self) -> None:
        with self._lock:
            for sock in (self._standby, self._sock):
                if sock is not None:
                    sock.close()
            self._standby = self._sock = None
        if self._proc is not None:
            self._proc.wait(timeout=5)
            self._proc = None


def _package_root() -> str:
    # The directory holding runtime_agent/, two levels up from runtime_agent/container/.
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    existing = os.environ.get("PYTHONPATH")
    return f"{here}:{existing}" if existing else here


def serve(
    fd: int,
    spare_root: str = "",
    spare_mount: str = "",
    staging: str = "",
    trash: str = "",
    scratch: str = "",
    preload: Sequence[str] = (),
) -> None:
    # Whatever unpickling a request imports is imported once here, not once per forked shim.
    for module in preload:
        importlib.import_module(module)

    if spare_root:
        _remove_abandoned_spares(spare_root, Path(spare_mount))
    sock = socket.socket(fileno=fd)
    # Shims are our children: let the kernel reap them (each shim restores the default).
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if trash:
        _tidy(Path(trash), Path(scratch))
    while True:
        message, fds, _, _ = socket.recv_fds(sock, 64, 1)
        if not message:
            return
        if message == b"tidy":
            if trash:
                _tidy(Path(trash), Path(scratch))
            continue
        if os.fork() == 0:
            code = 1
            try:
                sock.close()
                spare = None
                if spare_root:
                    spare = CgroupV1(Path(spare_mount), spare_root, f"{SPARE_PREFIX}{os.getpid()}")
                _standby(fds[0], spare, staging)
                code = 0
            finally:
                os._exit(code)
        os.close(fds[0])


def _tidy(trash: Path, scratch: Path) -> None:
    """Empty the trash and keep one blank container directory ready: off the agent's path,
    and in a process of its own, not a thread contending for the agent's interpreter."""
    # Deleting a container's files can take long (a big upper dir): a process of its own
    # does it, so that the next standby is never held up behind it. posix_spawn, not fork:
    # nothing of this process is copied.
    with contextlib.suppress(FileNotFoundError):
        doomed = [os.path.join(trash, name) for name in os.listdir(trash)]
        if doomed:
            os.posix_spawn(RM, [RM, "-rf", "--one-file-system", "--", *doomed], {})
    names = os.listdir(scratch) if os.path.isdir(scratch) else []
    for name in names:
        # Half made by a process that died meanwhile (a killed agent).
        maker = name.split("-")[1] if name.startswith(".making-") else ""
        if maker.isdigit() and not os.path.exists(f"/proc/{maker}"):
            shutil.rmtree(os.path.join(scratch, name), ignore_errors=True)
    if not any(name.startswith(BLANK_PREFIX) for name in names):
        with contextlib.suppress(OSError):  # the disk is full, say: create makes its own
            make_blank(scratch)


def _standby(fd: int, spare: Cgroup | None, staging: str) -> None:
    """A forked shim-to-be: fork the container process ahead, wait for one start request,
    then become that container's shim."""
    os.setsid()
    shim.detach([fd])
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    # The process forked ahead copies the host's mounts now; polling this file tells whether
    # they changed before the start (a volume's source mounted since, say).
    mounts = os.open("/proc/self/mountinfo", os.O_RDONLY | os.O_CLOEXEC) if staging else -1
    ahead: shim.Launch | None = shim.fork_container(own_pidns, None, -1, staging)
    if spare is not None:
        # Moving a process between v1 cgroups waits for RCU grace periods (milliseconds on a
        # busy host): done now, while nobody waits, rather than on the start path.
        try:
            spare.create(Resources())
            spare.join(ahead.pid)
        except OSError:
            _remove_spare(spare)
            spare = None
    channel = socket.socket(fileno=fd)
    watch = _MountWatch(mounts, ahead) if mounts >= 0 else None
    if watch is not None:
        watch.wait_for(channel)
    payload, fds, _, _ = socket.recv_fds(channel, 1 << 20, 2)
    channel.close()
    if not payload or not fds:
        _discard(ahead, spare)  # the agent went away before using us
        return
    mark("standby: request")
    report_w = fds[0]
    done_w = fds[1] if len(fds) > 1 else -1
    # SCM_RIGHTS fds arrive inheritable; a container's exec must not keep the agent waiting.
    for received in fds:
        os.set_inheritable(received, False)
    fresh, size = payload[:1] == b"F", int.from_bytes(payload[1:5], "big")
    plan_data, shim_data = payload[5 : 5 + size], payload[5 + size :]
    if fresh or (watch is not None and not watch.current()):
        # The shim forks a container process with a fresh copy of the mounts instead.
        _discard(ahead, spare)
        ahead = spare = None
    try:
        if ahead is not None:
            # The container process has the same request to read its plan from.
            socket.send_fds(socket.socket(fileno=ahead.plan_w), [plan_data], [report_w])
            ahead.plan_w = -1  # closed with that socket object
        plan = pickle.loads(plan_data)
        container_dir, cgroup, network, on_final_exit = pickle.loads(shim_data)
        args = (Container(container_dir, plan.spec), plan, cgroup, network, on_final_exit)
        if ahead is not None:
            shim.join_ahead(ahead, cgroup, plan.spec.resources, spare)
    except Exception as e:  # noqa: BLE001 - every failure goes back to the agent
        os.write(report_w, json.dumps({"error": f"shim helper: {e}", "exit_code": 128}).encode())
        return
    shim.Shim(*args).run(report_w, ahead, own_pidns, done_w)


class _MountWatch:
    """Whether the host still shows the mounts the process forked ahead copied.

    Other tools' mounts come and go (runc mounts its own binary for each run): each change the
    mount table's poll reports is checked against the copy's own account of its mounts while
    the standby waits, so that a start seldom pays for the comparison.
    """

    def __init__(self, mounts: int, ahead: shim.Launch) -> None:
        self.mounts = mounts
        # Read whatever happens: a message left unread would reset the plan's channel.
        self.copied = os.read(ahead.plan_w, 64)
        self.same = bool(self.copied)

    def _compare(self) -> None:
        # Once different, for good: the copy cannot catch up.
        if self.same:
            self.same = self.copied == str(shim.mount_view()).encode()

    def wait_for(self, channel: socket.socket) -> None:
        """Keep watching until ``channel`` has something to read."""
        poller = select.poll()
        poller.register(channel, select.POLLIN)
        poller.register(self.mounts, select.POLLPRI)
        while True:
            events = dict(poller.poll())
            if self.mounts in events:
                self._compare()
            if channel.fileno() in events:
                return

    def current(self) -> bool:
        poller = select.poll()
        poller.register(self.mounts, select.POLLPRI)
        if poller.poll(0):
            self._compare()
        return self.same


def _discard(ahead: shim.Launch, spare: Cgroup | None) -> None:
    ahead.discard()
    if spare is not None:
        _remove_spare(spare)


def _remove_spare(spare: Cgroup) -> None:
    with contextlib.suppress(OSError):
        spare.destroy()


def _remove_abandoned_spares(root: str, mount: Path) -> None:
    """Spare cgroups of standbys that died unused (a killed helper) are emptied and removed."""
    for _, hierarchy in hierarchies(mount):
        with contextlib.suppress(FileNotFoundError):
            for path in (hierarchy / root).glob(f"{SPARE_PREFIX}*"):
                owner = path.name.removeprefix(SPARE_PREFIX)
                if owner.isdigit() and _is_standby(int(owner)):
                    continue
                spare = CgroupV1(mount, root, path.name)
                with contextlib.suppress(OSError):
                    spare.destroy(timeout=1.0)


def _is_standby(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"runtime_agent.container.zygote" in f.read()
    except OSError:
        return False


if __name__ == "__main__":
    serve(int(sys.argv[1]), **json.loads(sys.argv[2]))
