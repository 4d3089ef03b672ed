"""A process more in a running container (exec, a health check): it joins the container's
namespaces and cgroup, takes its user and limits, and execs."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Sequence

from runtime_agent.container.process import (
    drop_privileges,
    join_cgroup,
    open_terminal,
    reset_signals,
    resolve_executable,
)
from runtime_agent.container.spec import ContainerSpec
from runtime_agent.kernel import linux
from runtime_agent.kernel.userns import become_root

NAMESPACES = ("ipc", "uts", "net", "pid", "cgroup", "mnt")  # mnt last: it changes our root
# The PID namespace belongs to the host's user namespace (the shim makes it), so it is joined
# while we are host root; the rest belong to the container's, joined as its root.
USERNS_NAMESPACES = ("pid", "user", "ipc", "uts", "net", "cgroup", "mnt")


def exec_child(
    spec: ContainerSpec,
    ns_fds: list[int],
    procs: list[str],
    argv: Sequence[str],
    env: Sequence[str],
    user: str | None,
    workdir: str | None,
    out_w: int,
    err_w: int,
    fail_w: int,
    bpf: bytes | None,
    stdin: bool = False,
    terminal_fd: int = -1,
) -> None:
    join_cgroup(procs)
    for fd in ns_fds:
        os.setns(fd)
    if spec.private_userns:
        become_root()
    # setns into a PID namespace applies to children only: the process to exec is one more fork.
    child = os.fork()
    if child:
        os.close(fail_w)
        # A health check that runs out of time ends here: the command must go too, with what it
        # started (the session it leads, made below).
        signal.signal(signal.SIGTERM, lambda *_: _kill_group(child))
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(128 - code if code < 0 else code)
    if not stdin:
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
    if out_w != 1:
        os.dup2(out_w, 1)
    if err_w != 2:
        os.dup2(err_w, 2)
    if terminal_fd >= 0:
        # In the container's mount namespace now: the terminal is one of its devpts.
        open_terminal(spec.user if user is None else user, terminal_fd, stdin_too=True)
    else:
        os.setsid()
    environ = dict(e.partition("=")[::2] for e in spec.env)
    environ.update(dict(e.partition("=")[::2] for e in env))
    for key, value in drop_privileges(spec, spec.user if user is None else user).items():
        environ.setdefault(key, value)
    os.chdir(workdir or spec.workdir)
    executable = resolve_executable(argv[0], environ)
    if bpf:
        linux.seccomp_set_filter(bpf)
    reset_signals()
    os.execve(executable, list(argv), environ)


def _kill_group(leader: int) -> None:
    try:
        os.killpg(leader, signal.SIGKILL)
    except ProcessLookupError:  # not yet its own group: the process alone
        with contextlib.suppress(ProcessLookupError):
            os.kill(leader, signal.SIGKILL)
