"""Namespaces, root filesystem and privileges of a running container."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_agent.container.spec import MountSpec
from runtime_agent.container.state import Container
from runtime_agent.errors import StartFailed
from runtime_agent.images import Image
from runtime_agent.runtime.api import Runtime
from tests.runtime.containers.conftest import output

Make = Callable[..., Container]


def test_pid_1_is_the_container_process_and_host_processes_are_invisible(
    runtime: Runtime, container: Make
) -> None:
    c = container("sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'")
    pid, visible = output(runtime, c).split()
    assert pid == "1"
    # Only the shell and ls itself (and perhaps grep) exist in the container's PID namespace.
    assert int(visible) <= 3
    assert os.getpid() > 3


def test_hostname_is_the_containers(runtime: Runtime, container: Make) -> None:
    c = container("hostname", hostname="berth-box")
    assert output(runtime, c) == "berth-box\n"


def test_default_hostname_is_the_short_id(runtime: Runtime, container: Make) -> None:
    c = container("cat", "/etc/hostname")
    assert output(runtime, c) == f"{c.id[:12]}\n"


def test_a_file_deleted_in_an_upper_layer_is_absent(
    runtime: Runtime, container: Make, multilayer: Image
) -> None:
    c = container(
        "sh", "-c", "ls /etc/motd /bin/vi; ls /opt/data; cat /etc/added", image=multilayer
    )
    assert output(runtime, c) == "new\nadded by the top layer\n"
    assert "No such file or directory" in output(runtime, c, "stderr")


def test_a_write_in_the_container_does_not_reach_the_image_layers(
    runtime: Runtime, container: Make, busybox: Image
) -> None:
    before = {str(p.relative_to(d)) for d in busybox.layer_dirs for p in Path(d).rglob("*")}
    c = container("sh", "-c", "echo data > /etc/written && rm /bin/ls && echo done")
    assert output(runtime, c) == "done\n"
    after = {str(p.relative_to(d)) for d in busybox.layer_dirs for p in Path(d).rglob("*")}
    assert after == before
    assert (c.upper / "etc/written").read_text() == "data\n"
    assert os.stat(c.upper / "bin/ls").st_rdev == 0  # the overlay's whiteout for the deletion


def test_default_capabilities_seccomp_and_no_new_privs(runtime: Runtime, container: Make) -> None:
    c = container("grep", "-E", "^(CapBnd|CapEff|NoNewPrivs|Seccomp):", "/proc/self/status")
    status = dict(line.split(":\t") for line in output(runtime, c).splitlines())
    # Docker's 14 default capabilities.
    assert status["CapBnd"] == status["CapEff"] == "00000000a80425fb"
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"


def test_mount_is_refused_inside(runtime: Runtime, container: Make) -> None:
    c = container("mount", "-t", "tmpfs", "none", "/mnt")
    assert runtime.wait(c, timeout=10) != 0
    assert output(runtime, c, "stderr") == "mount: permission denied (are you root?)\n"


# The image has no debugger: the host's Python, bound in read-only, makes the calls.
READ_OWN_MEMORY = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]
source, target = ctypes.create_string_buffer(b"berth!!"), ctypes.create_string_buffer(8)
local, remote = Iovec(ctypes.addressof(target), 8), Iovec(ctypes.addressof(source), 8)
read = libc.process_vm_readv(os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
traced = libc.ptrace(0, 0, 0, 0)  # PTRACE_TRACEME: allowed to everyone, as under Docker
print(read, traced, ctypes.get_errno())
"""
HOST_PYTHON = [MountSpec("bind", path, path, readonly=True) for path in ("/usr", "/lib", "/lib64")]


def test_an_added_capability_lets_its_syscalls_through(runtime: Runtime, container: Make) -> None:
    python = ("/usr/bin/python3", "-c", READ_OWN_MEMORY)
    plain = container(*python, mounts=HOST_PYTHON)
    assert output(runtime, plain).split() == ["-1", "0", "1"]  # process_vm_readv: EPERM
    ptrace = container(*python, mounts=HOST_PYTHON, cap_add=["SYS_PTRACE"])
    assert output(runtime, ptrace).split() == ["8", "0", "0"]
    admin = container(
        "sh", "-c", "mkdir /scratch && mount -t tmpfs none /scratch && grep -c ' /scratch ' /proc/mounts",
        cap_add=["SYS_ADMIN"],
    )  # fmt: skip
    assert output(runtime, admin) == "1\n"


# Syscalls since Linux 6.8, numbered alike on every arch: statmount, listmount, mseal.
RECENT_SYSCALLS = (457, 458, 462)


def _errno_of(number: int) -> int:
    """The errno of ``syscall(number, 0, 0, 0, 0)`` on the host, in a child of its own."""
    probe = (
        "import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
        f"libc.syscall({number}, 0, 0, 0, 0); print(ctypes.get_errno())"
    )
    return int(subprocess.run(["/usr/bin/python3", "-c", probe], capture_output=True,
                              text=True, timeout=10, check=True).stdout)  # fmt: skip


def test_a_syscall_the_filter_does_not_know_is_refused_as_unimplemented(
    runtime: Runtime, container: Make
) -> None:
    import ctypes
    import errno
    import platform

    from runtime_agent.kernel import seccomp

    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p
    native = seccomp._NATIVE_ARCH[platform.machine()]
    # One the kernel has (any answer but ENOSYS) and this libseccomp does not know.
    candidates = [
        n for n in RECENT_SYSCALLS
        if not lib.seccomp_syscall_resolve_num_arch(native, n) and _errno_of(n) != errno.ENOSYS
    ]  # fmt: skip
    if not candidates:
        pytest.skip("every syscall this kernel has is known to this libseccomp")
    probe = (
        "import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
        f"libc.syscall({candidates[0]}, 0, 0, 0, 0); print(ctypes.get_errno())"
    )
    c = container("/usr/bin/python3", "-c", probe, mounts=HOST_PYTHON)
    assert output(runtime, c) == f"{errno.ENOSYS}\n"


def test_masked_and_read_only_paths(runtime: Runtime, container: Make) -> None:
    c = container(
        "sh", "-c",
        "cat /proc/keys /proc/timer_list | wc -c; ls /sys/firmware | wc -l; "
        "echo 1 > /proc/sys/kernel/domainname || echo refused; "
        "echo x > /sys/kernel/uevent_helper || echo ro-sys",
    )  # fmt: skip
    assert output(runtime, c).split() == ["0", "0", "refused", "ro-sys"]


def test_minimal_dev(runtime: Runtime, container: Make) -> None:
    c = container("ls", "/dev")
    assert set(output(runtime, c).split()) == {
        "console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm",
        "stderr", "stdin", "stdout", "tty", "urandom", "zero",
    }  # fmt: skip


def test_user_without_capabilities(runtime: Runtime, container: Make) -> None:
    c = container("sh", "-c", "id -u; id -g; grep CapEff /proc/self/status", user="nobody")
    assert output(runtime, c).split() == ["65534", "65534", "CapEff:", "0000000000000000"]


def test_an_unprivileged_user_reads_hosts_resolv_conf_and_hostname(
    runtime: Runtime, container: Make
) -> None:
    c = container(
        "sh",
        "-c",
        "cat /etc/hosts /etc/resolv.conf /etc/hostname >/dev/null && echo readable",
        user="nobody",
    )
    assert output(runtime, c) == "readable\n"


def test_unknown_executable_fails_like_docker(container: Make) -> None:
    with pytest.raises(StartFailed) as info:
        container("no-such-binary")
    assert info.value.message == 'exec: "no-such-binary": executable file not found in $PATH'
    assert info.value.exit_code == 127


def test_environment_workdir_and_entrypoint(runtime: Runtime, container: Make) -> None:
    c = container(
        "-c", "echo $GREETING; pwd", entrypoint=["sh"], env=["GREETING=hello"], workdir="/srv/app"
    )
    assert output(runtime, c) == "hello\n/srv/app\n"


def test_init_reaps_and_forwards(runtime: Runtime, container: Make) -> None:
    c = container(
        "sh",
        "-c",
        "trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
        init=True,
    )
    _wait_for_log(runtime, c, "ready")
    runtime.stop(c, timeout=5)
    assert "got-term" in output(runtime, c)
    assert c.state.exit_code == 0


def _wait_for_log(runtime: Runtime, c: Container, text: str) -> None:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(text.encode() in e.data for e in runtime.logs(c)):
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} never appeared in the logs")
