"""Thin ctypes bindings for the Linux calls Python's os module lacks."""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from collections.abc import Sequence

_libc = ctypes.CDLL(None, use_errno=True)

# Syscall numbers are only needed where glibc 2.36 has no wrapper (new mount API, capset, seccomp).
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "pivot_root": 155,
        "capget": 125,
        "capset": 126,
        "seccomp": 317,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "mount_setattr": 442,
    },
    "aarch64": {
        "pivot_root": 41,
        "capget": 90,
        "capset": 91,
        "seccomp": 277,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "mount_setattr": 442,
    },
}
_NR = _SYSCALLS.get(platform.machine(), _SYSCALLS["x86_64"])

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24
MNT_DETACH = 0x2

FSOPEN_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
FSMOUNT_CLOEXEC = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 0x1
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR_IDMAP = 0x100000

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_SET_MODE_FILTER = 1

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.mknod.argtypes = [ctypes.c_char_p, ctypes.c_uint, ctypes.c_ulong]


def _check(result: int, what: str, target: str | bytes = "") -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", os.fsdecode(target) if target else None)
    return result


def _b(value: str | bytes | os.PathLike[str] | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(
    source: str | None,
    target: str | os.PathLike[str],
    fstype: str | None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    _check(
        _libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), "mount", os.fspath(target)
    )


def umount2(target: str | os.PathLike[str], flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), "umount2", os.fspath(target))


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.syscall(_NR["pivot_root"], _b(new_root), _b(put_old)), "pivot_root", new_root)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), "prctl")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), "sethostname")


def mknod(path: str, mode: int, major: int, minor: int) -> None:
    _check(_libc.mknod(_b(path), mode, os.makedev(major, minor)), "mknod", path)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def capset(effective: int, permitted: int, inheritable: int) -> None:
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i, shift in enumerate((0, 32)):
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.syscall(_NR["capset"], ctypes.byref(header), data), "capset")


def cap_last_cap() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_set_filter(bpf: bytes) -> None:
    """Install a raw classic-BPF program (8 bytes per instruction) as a seccomp filter."""
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _check(_libc.syscall(_NR["seccomp"], SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(prog)), "seccomp")


RENAME_EXCHANGE = 2
_libc.renameat2.argtypes = [
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_uint,
]


def rename_exchange(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
    """Swap two paths' files in one step (renameat2 RENAME_EXCHANGE)."""
    _check(_libc.renameat2(AT_FDCWD, _b(a), AT_FDCWD, _b(b), RENAME_EXCHANGE), "renameat2", a)


def new_mount_api_available() -> bool:
    try:
        fd = fsopen("tmpfs")
    except OSError:
        return False
    os.close(fd)
    return True


def fsopen(fstype: str) -> int:
    return _check(_libc.syscall(_NR["fsopen"], _b(fstype), FSOPEN_CLOEXEC), "fsopen", fstype)


def fsconfig_string(fd: int, key: str, value: str | None) -> None:
    cmd = FSCONFIG_SET_STRING if value is not None else FSCONFIG_SET_FLAG
    _check(
        _libc.syscall(_NR["fsconfig"], fd, cmd, _b(key), _b(value), 0),
        "fsconfig",
        f"{key}={value}",
    )


def fsconfig_create(fd: int) -> None:
    _check(
        _libc.syscall(_NR["fsconfig"], fd, FSCONFIG_CMD_CREATE, None, None, 0), "fsconfig create"
    )


def fsmount(fd: int, attr_flags: int = 0) -> int:
    return _check(_libc.syscall(_NR["fsmount"], fd, FSMOUNT_CLOEXEC, attr_flags), "fsmount")


def move_mount_fd(mount_fd: int, target: str) -> None:
    _check(
        _libc.syscall(
            _NR["move_mount"], mount_fd, b"", AT_FDCWD, _b(target), MOVE_MOUNT_F_EMPTY_PATH
        ),
        "move_mount",
        target,
    )


def fsmount_detached(fstype: str, options: Sequence[tuple[str, str]], attr_flags: int = 0) -> int:
    """A new mount attached nowhere yet, as an fd for :func:`move_mount_fd`."""
    fd = fsopen(fstype)
    try:
        for key, value in options:
            fsconfig_string(fd, key, value)
        fsconfig_create(fd)
        return fsmount(fd, attr_flags)
    finally:
        os.close(fd)


def open_tree_clone(path: str, recursive: bool = False) -> int:
    """A detached bind mount of ``path`` (with its submounts if ``recursive``), as an fd."""
    flags = OPEN_TREE_CLONE | os.O_CLOEXEC | (AT_RECURSIVE if recursive else 0)
    return _check(_libc.syscall(_NR["open_tree"], AT_FDCWD, _b(path), flags), "open_tree", path)


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def idmap_mount(mount_fd: int, userns_fd: int, recursive: bool = False) -> None:
    """Map a detached mount's ids (and its submounts' if ``recursive``) as ``userns_fd``'s
    namespace maps them (kernel 5.12+)."""
    attr = _MountAttr(MOUNT_ATTR_IDMAP, 0, 0, userns_fd)
    _check(
        _libc.syscall(
            _NR["mount_setattr"],
            mount_fd,
            b"",
            AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0),
            ctypes.byref(attr),
            ctypes.sizeof(attr),
        ),
        "mount_setattr",
    )


def mount_overlay(lowerdirs: Sequence[str], upperdir: str, workdir: str, target: str) -> None:
    """Mount an overlay; ``lowerdirs`` are topmost first, as in the ``lowerdir=`` option."""
    try:
        fd = fsopen("overlay")
    except OSError:
        fd = -1
    if fd < 0:
        data = f"lowerdir={':'.join(lowerdirs)},upperdir={upperdir},workdir={workdir}"
        mount("overlay", target, "overlay", 0, data)
        return
    try:
        try:
            for lower in lowerdirs:
                fsconfig_string(fd, "lowerdir+", lower)
        except OSError:
            # Kernels before 6.8 lack "lowerdir+"; a single option string still fits up to a page.
            fsconfig_string(fd, "lowerdir", ":".join(lowerdirs))
        fsconfig_string(fd, "upperdir", upperdir)
        fsconfig_string(fd, "workdir", workdir)
        fsconfig_create(fd)
        mfd = fsmount(fd)
        try:
            move_mount_fd(mfd, target)
        finally:
            os.close(mfd)
    finally:
        os.close(fd)


_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_AF_INET = 2
_SOCK_DGRAM = 2
_SOCK_CLOEXEC = 0o2000000


def link_up(name: str) -> None:
    """Bring an interface up with an ioctl, cheaper than spawning ``ip`` on the start path.

    Through libc rather than the socket module, whose import (its enums) costs more than the
    whole call, and runs in a container process that has not imported it.
    """
    fd = _check(_libc.socket(_AF_INET, _SOCK_DGRAM | _SOCK_CLOEXEC, 0), "socket")
    try:
        # struct ifreq: the name in 16 bytes, then a 24-byte union whose first field is the flags.
        ifreq = ctypes.create_string_buffer(name.encode(), 40)
        _check(_libc.ioctl(fd, ctypes.c_ulong(_SIOCGIFFLAGS), ifreq), "SIOCGIFFLAGS", name)
        flags = int.from_bytes(ifreq.raw[16:18], sys.byteorder) | _IFF_UP
        ifreq[16:18] = flags.to_bytes(2, sys.byteorder)
        _check(_libc.ioctl(fd, ctypes.c_ulong(_SIOCSIFFLAGS), ifreq), "SIOCSIFFLAGS", name)
    finally:
        os.close(fd)
