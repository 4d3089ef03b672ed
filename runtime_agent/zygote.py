"""A small, long-lived helper interpreter that forks container shims for the agent.

Forking costs grow with the forking process's memory: a warm agent (tens of MiB) takes several
milliseconds per fork, this helper about one. The agent starts it once and sends it each start.
"""

from __future__ import annotations

import contextlib
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


class ZygoteClient:
    """The agent's end: starts the helper on first use and asks it to spawn shims."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None

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

    def spawn(self, *args: Any) -> int:
        """Same contract as :func:`runtime_agent.shim.spawn`, run in the helper.

        The report pipe goes to the helper with the request, so the shim and the container
        process answer us directly: no extra hop through the helper on the start path.
        """
        payload = pickle.dumps(args)
        report_r, report_w = os.pipe()
        try:
            with self._lock:
                try:
                    socket.send_fds(self._ensure(), [payload], [report_w])
                except OSError:
                    self._sock = None  # the helper died: start a new one, once
                    socket.send_fds(self._ensure(), [payload], [report_w])
            os.close(report_w)
            report_w = -1
            data = b"".join(iter(lambda: os.read(report_r, 65536), b""))
        finally:
            os.close(report_r)
            if report_w >= 0:
                os.close(report_w)
        return shim.decode_report(data)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            self._proc.wait(timeout=5)
            self._proc = None


def _package_root() -> str:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    existing = os.environ.get("PYTHONPATH")
    return f"{here}:{existing}" if existing else here


def serve(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    # Shims are our children: let the kernel reap them (each shim restores the default).
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        payload, fds, _, _ = socket.recv_fds(sock, 1 << 20, 1)
        if not payload:
            return
        report_w = fds[0]
        # SCM_RIGHTS fds arrive inheritable; a container's exec must not keep the agent waiting.
        os.set_inheritable(report_w, False)
        try:
            shim.spawn_report(*pickle.loads(payload), detach=False, report_w=report_w)
        except Exception as e:  # noqa: BLE001 - every failure goes back to the agent
            with contextlib.suppress(OSError):
                os.write(
                    report_w, json.dumps({"error": f"shim helper: {e}", "exit_code": 128}).encode()
                )
                os.close(report_w)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
