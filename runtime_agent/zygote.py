"""A small, long-lived helper interpreter that forks container shims for the agent.

Forking costs grow with the forking process's memory: a warm agent (tens of MiB) takes several
milliseconds per fork, this helper about one. The agent starts it once and sends it each start.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

from runtime_agent import shim
from runtime_agent.trace import mark


class ZygoteClient:
    """The agent's end: starts the helper on first use and hands each start to a shim that the
    helper forked in advance, so neither a fork nor a hop through the helper is on the start path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._standby: socket.socket | None = None

    def _ensure(self) -> socket.socket:
        if self._sock is not None and self._proc is not None and self._proc.poll() is None:
            return self._sock
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "runtime_agent.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": _package_root()},
        )
        theirs.close()
        self._sock = ours
        return ours

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
        """Same contract as :func:`runtime_agent.shim.spawn`, run by a standby shim.

        The report pipe goes with the request, so the shim and the container process answer
        us directly; the shim closes ``done_fd`` (if given) once it has recorded the exit.
        """
        # The cgroup's files lead, plain: the shim joins the container process to them before
        # it spends a millisecond unpickling the rest. None lead for a container with a user
        # namespace: the process forked ahead made its namespaces in the host's, so the shim
        # forks a fresh one instead.
        head = "" if args[1].host_root_id is not None else "\n".join(args[2].procs_files())
        payload = head.encode() + b"\0" + pickle.dumps(args)
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
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    existing = os.environ.get("PYTHONPATH")
    return f"{here}:{existing}" if existing else here


def serve(fd: int) -> None:
    # Whatever unpickling a request imports is imported once here, not once per forked shim.
    import runtime_agent.runtime  # noqa: F401

    sock = socket.socket(fileno=fd)
    # Shims are our children: let the kernel reap them (each shim restores the default).
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        _, fds, _, _ = socket.recv_fds(sock, 64, 1)
        if not fds:
            return
        if os.fork() == 0:
            code = 1
            try:
                sock.close()
                _standby(fds[0])
                code = 0
            finally:
                os._exit(code)
        os.close(fds[0])


def _standby(fd: int) -> None:
    """A forked shim-to-be: fork the container process ahead, wait for one start request,
    then become that container's shim."""
    os.setsid()
    shim.detach([fd])
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    ahead: shim.Launch | None = shim.fork_container(own_pidns, None, -1)
    channel = socket.socket(fileno=fd)
    payload, fds, _, _ = socket.recv_fds(channel, 1 << 20, 2)
    channel.close()
    if not payload or not fds:
        return  # the agent went away before using us; the process forked ahead sees EOF
    mark("standby: request")
    report_w = fds[0]
    done_w = fds[1] if len(fds) > 1 else -1
    # SCM_RIGHTS fds arrive inheritable; a container's exec must not keep the agent waiting.
    for received in fds:
        os.set_inheritable(received, False)
    procs, _, payload = payload.partition(b"\0")
    try:
        if not procs:
            ahead.discard()
            ahead = None
        else:
            # The container process has the same request to read its plan from.
            socket.send_fds(socket.socket(fileno=ahead.plan_w), [payload], [report_w])
            ahead.plan_w = -1  # closed with that socket object
            shim.join_ahead(ahead, procs.decode().split("\n"))
        args = pickle.loads(payload)
    except Exception as e:  # noqa: BLE001 - every failure goes back to the agent
        os.write(report_w, json.dumps({"error": f"shim helper: {e}", "exit_code": 128}).encode())
        return
    shim.Shim(*args).run(report_w, ahead, own_pidns, done_w)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
