"""Builds the default seccomp filter with libseccomp, once per process and set of capabilities
that open syscalls up: every syscall libseccomp knows is allowed but those listed as denied,
and any other (one newer than libseccomp) is refused."""

from __future__ import annotations

import ctypes
import errno
import functools
import hashlib
import os
import platform
from pathlib import Path

# Docker's default profile is an allow-list; this deny-list covers the syscalls that profile
# keeps from containers because they reach kernel-wide state or escape the namespaces. ptrace
# is not among them: since Linux 4.8 seccomp checks a traced syscall again, so a debugger (of
# the container's own processes, as the usual checks allow) cannot get round the filter.
DENIED_SYSCALLS: tuple[str, ...] = (
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
    "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
    "get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount",
    "mount_setattr", "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
    "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root", "process_vm_readv",
    "process_vm_writev", "query_module", "quotactl", "quotactl_fd", "reboot",
    "request_key", "set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon",
    "sysfs", "_sysctl", "umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat",
    "vm86", "vm86old",
)  # fmt: skip

# Syscalls a capability the container was given (--cap-add) lets through again, as Docker's
# profile does: `--cap-add SYS_PTRACE` for a debugger, `SYS_ADMIN` for mounts and namespaces.
ALLOWED_BY_CAPABILITY: dict[str, tuple[str, ...]] = {
    "CAP_SYS_ADMIN": (
        "bpf", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie", "mount",
        "mount_setattr", "move_mount", "open_tree", "perf_event_open", "pivot_root", "quotactl",
        "quotactl_fd", "setns", "umount", "umount2", "unshare",
    ),
    "CAP_SYS_PTRACE": ("kcmp", "process_vm_readv", "process_vm_writev"),
    "CAP_SYS_MODULE": ("create_module", "delete_module", "finit_module", "init_module"),
    "CAP_SYS_TIME": ("clock_adjtime", "clock_settime", "settimeofday", "stime"),
    "CAP_SYS_BOOT": ("kexec_file_load", "kexec_load", "reboot"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_RAWIO": ("ioperm", "iopl"),
    "CAP_SYS_NICE": ("get_mempolicy", "mbind", "move_pages", "set_mempolicy"),
    "CAP_DAC_READ_SEARCH": ("name_to_handle_at", "open_by_handle_at"),
    "CAP_BPF": ("bpf",),
    "CAP_PERFMON": ("perf_event_open",),
}  # fmt: skip


def denied_syscalls(capabilities: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The deny-list for a container with ``capabilities``."""
    allowed = {name for cap in capabilities for name in ALLOWED_BY_CAPABILITY.get(cap, ())}
    return tuple(name for name in DENIED_SYSCALLS if name not in allowed)


# clone(2) may not create namespaces; clone3 passes flags in memory seccomp cannot read, so it
# gets ENOSYS and libc falls back to clone, as under Docker.
CLONE_NAMESPACE_FLAGS = (
    0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
)  # fmt: skip

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_ACT_ERRNO_BASE = 0x00050000
_SCMP_CMP_MASKED_EQ = 7
_SCMP_ARCH = {"x86_64": (0x40000003, 0x4000003E), "aarch64": (0x40000028,)}  # i386, x32


_SCMP_FLTATR_CTL_OPTIMIZE = 8
_NR_UNKNOWN = -1  # __NR_SCMP_ERROR
_NATIVE_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_HIGHEST_SYSCALL = 1024


def known_syscalls(lib: ctypes.CDLL, arches: tuple[int, ...]) -> set[str]:
    """The names of every syscall libseccomp knows on the native arch and on ``arches`` (the
    32-bit ones have some of their own, such as socketcall)."""
    lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p
    lib.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]
    names = set()
    native = _NATIVE_ARCH.get(platform.machine())
    for arch in (native, *arches) if native else arches:
        # x32 numbers its syscalls from bit 30 up.
        base = 0x40000000 if arch == 0x4000003E else 0
        for number in range(_HIGHEST_SYSCALL):
            pointer = lib.seccomp_syscall_resolve_num_arch(arch, base + number)
            if pointer:
                names.add(ctypes.string_at(pointer).decode())
                libc.free(pointer)
    return names


def _nr(lib: ctypes.CDLL, name: str) -> int:
    """The native number of ``name``, or libseccomp's pseudo-number for one the native arch
    lacks (which it then places on the arches that have it)."""
    return int(lib.seccomp_syscall_resolve_name(name.encode()))


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def default_filter(
    capabilities: tuple[str, ...] | list[str] = (), cache_dir: Path | None = None
) -> bytes | None:
    """The filter for a container with ``capabilities`` as raw BPF, or None when libseccomp is
    not installed. With a ``cache_dir`` it is built once per machine rather than per process:
    compiling some four hundred rules takes a CLI run about 40 ms."""
    granting = tuple(sorted(c for c in capabilities if c in ALLOWED_BY_CAPABILITY))
    if cache_dir is None:
        return _filter(granting)
    return _cached_filter(granting, cache_dir)


def _library_identity() -> str:
    """Which libseccomp this process loads (path, size, time): its syscall tables make the filter."""
    try:
        ctypes.CDLL("libseccomp.so.2")
        with open("/proc/self/maps") as maps:
            path = next(line.split()[-1] for line in maps if "libseccomp" in line)
        st = os.stat(path)
    except (OSError, StopIteration):
        return "none"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


@functools.cache
def _cached_filter(capabilities: tuple[str, ...], cache_dir: Path) -> bytes | None:
    # Keyed by everything the filter is made from: this module, libseccomp, the arch, the caps.
    source = Path(__file__).read_bytes()
    version = _library_identity()
    key = hashlib.sha256(
        b"\0".join(
            [source, version.encode(), platform.machine().encode(), *map(str.encode, capabilities)]
        )
    ).hexdigest()[:32]
    path = cache_dir / f"{key}.bpf"
    try:
        return path.read_bytes() or None
    except FileNotFoundError:
        pass
    bpf = _filter(capabilities)
    if bpf:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = cache_dir / f".{key}.{os.getpid()}"
        temporary.write_bytes(bpf)
        os.replace(temporary, path)  # whole or not at all: another process may read it now
    return bpf


@functools.cache
def _filter(capabilities: tuple[str, ...]) -> bytes | None:
    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError:
        _warn("libseccomp.so.2 not found: containers run without a seccomp filter")
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp),
    ]  # fmt: skip
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    eperm = _SCMP_ACT_ERRNO_BASE | errno.EPERM
    # Default-deny: a syscall this libseccomp does not know (one newer than it) is refused with
    # ENOSYS, as if the kernel lacked it, so that libc falls back to an older one.
    ctx = lib.seccomp_init(_SCMP_ACT_ERRNO_BASE | errno.ENOSYS)
    try:
        arches = _SCMP_ARCH.get(platform.machine(), ())
        for arch in arches:
            lib.seccomp_arch_add(ctx, arch)  # EEXIST or unsupported: the native arch stays
        # Hundreds of rules: a binary search, not a chain of comparisons on every syscall.
        lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_OPTIMIZE, 2)
        denied = set(denied_syscalls(capabilities))
        special = {"clone", "clone3"}
        for name in sorted(known_syscalls(lib, arches) - denied - special):
            lib.seccomp_rule_add_array(ctx, _SCMP_ACT_ALLOW, _nr(lib, name), 0, None)
        for name in denied:
            nr = _nr(lib, name)
            if nr != _NR_UNKNOWN:
                lib.seccomp_rule_add_array(ctx, eperm, nr, 0, None)
        clone_nr = _nr(lib, "clone")
        if "CAP_SYS_ADMIN" in capabilities:
            lib.seccomp_rule_add_array(ctx, _SCMP_ACT_ALLOW, clone_nr, 0, None)
            lib.seccomp_rule_add_array(ctx, _SCMP_ACT_ALLOW, _nr(lib, "clone3"), 0, None)
        else:
            no_namespace = _ArgCmp(0, _SCMP_CMP_MASKED_EQ, sum(CLONE_NAMESPACE_FLAGS), 0)
            lib.seccomp_rule_add_array(
                ctx, _SCMP_ACT_ALLOW, clone_nr, 1, ctypes.byref(no_namespace)
            )
            for flag in CLONE_NAMESPACE_FLAGS:
                cmp = _ArgCmp(0, _SCMP_CMP_MASKED_EQ, flag, flag)
                lib.seccomp_rule_add_array(ctx, eperm, clone_nr, 1, ctypes.byref(cmp))
            # clone3's flags are in memory the filter cannot read: ENOSYS, and libc uses clone.
            lib.seccomp_rule_add_array(
                ctx, _SCMP_ACT_ERRNO_BASE | errno.ENOSYS, _nr(lib, "clone3"), 0, None
            )
        read_fd, write_fd = os.pipe()
        try:
            if lib.seccomp_export_bpf(ctx, write_fd) != 0:
                _warn("seccomp_export_bpf failed: containers run without a seccomp filter")
                return None
            os.close(write_fd)
            write_fd = -1
            chunks = []
            while chunk := os.read(read_fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
    finally:
        lib.seccomp_release(ctx)


def oci_profile() -> dict[str, object]:
    """The same filter as an OCI runtime spec's linux.seccomp (for runc and crun to compare)."""
    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return {}
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    arches = _SCMP_ARCH.get(platform.machine(), ())
    denied = [n for n in DENIED_SYSCALLS if _nr(lib, n) != _NR_UNKNOWN]
    allowed = sorted(known_syscalls(lib, arches) - set(DENIED_SYSCALLS) - {"clone", "clone3"})
    names = {"x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]}
    deny = {"action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM}
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.ENOSYS,
        "architectures": names.get(platform.machine(), ["SCMP_ARCH_AARCH64"]),
        "syscalls": [
            {"names": allowed, "action": "SCMP_ACT_ALLOW"},
            {"names": denied, **deny},
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ALLOW",
                "args": [
                    {
                        "index": 0,
                        "value": sum(CLONE_NAMESPACE_FLAGS),
                        "valueTwo": 0,
                        "op": "SCMP_CMP_MASKED_EQ",
                    }
                ],
            },  # fmt: skip
            *(
                {
                    "names": ["clone"],
                    **deny,
                    "args": [{"index": 0, "value": f, "valueTwo": f, "op": "SCMP_CMP_MASKED_EQ"}],
                }
                for f in CLONE_NAMESPACE_FLAGS
            ),
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
        ],
    }


def _warn(message: str) -> None:
    # logging is imported only here: every CLI command would otherwise pay for its import.
    import logging

    logging.getLogger(__name__).warning(message)
