"""What runs in the forked container process: namespaces, root filesystem, privileges, exec."""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import signal
import socket  # imported here: after pivot_root nothing more can be
import stat
import termios
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from runtime_agent.container.spec import CAPABILITY_NUMBERS, ContainerSpec, MountSpec
from runtime_agent.errors import RuntimeAgentError, StartFailed
from runtime_agent.isolation.network import Attachment, configure_inside
from runtime_agent.kernel import linux, userns
from runtime_agent.kernel.linux import (
    MNT_DETACH,
    MS_BIND,
    MS_MOVE,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_STRICTATIME,
)
from runtime_agent.kernel.pathrs import ensure_dir, ensure_file
from runtime_agent.trace import mark

# Docker's masked and read-only paths.
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)  # fmt: skip
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

DEVICES = (  # name, major, minor
    ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
    ("tty", 5, 0),
)  # fmt: skip
DEV_SYMLINKS = (
    ("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx"), ("/proc/kcore", "core"),
)  # fmt: skip


@dataclass
class Plan:
    """Everything the child needs, resolved by the parent before fork so the child stays short."""

    spec: ContainerSpec
    lower_dirs: list[str]  # overlay lower dirs, topmost first
    upper: str
    work: str
    # An empty host directory on which the process mounts a tmpfs of its own, in its own mount
    # namespace: the root filesystem's mount point and the files bound into /etc live there.
    staging: str
    rootfs: str  # where the root filesystem is mounted: staging/rootfs
    mount_sources: list[str]  # one host path per spec mount ("" for tmpfs)
    etc_files: dict[str, bytes]  # container path -> contents (hosts, resolv.conf, hostname)
    seccomp_bpf: bytes | None
    new_net: bool
    attachment: Attachment | None = None
    host_root_id: int | None = None  # with a user namespace: the host uid/gid of its root


def namespace_flags(plan: Plan) -> int:
    flags = linux.CLONE_NEWNS | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC
    return flags | linux.CLONE_NEWNET if plan.new_net else flags


class PremadeMounts(NamedTuple):
    """Mounts a container process makes as host root before entering its user namespace,
    all detached, to attach in the mount namespace it then makes."""

    rootfs: int  # the overlay; attached on the working directory, the plan's staging directory
    proc: int
    binds: dict[str, int]  # by the /proc/self/fd link that stands for each in the plan
    etc_files: dict[str, int]  # by container path: hosts, resolv.conf, hostname


def enter_with_mounts(plan: Plan, host_root_id: int) -> tuple[Plan, PremadeMounts]:
    """In a new container process: make its user namespace and join it as its root.

    Bind sources are cloned first: the container's root may not search the agent's state dir
    (often 0700), and a bind mount made after unsharing the mount namespace may not come from
    the host's. In the plan returned, each host path is replaced by a ``/proc/self/fd`` link to
    its clone, and the root filesystem by one to the overlay. The /etc files are written to a
    tmpfs of this process's, owned by the container's root, which may then write them. proc is
    made here too, as host root, because the PID namespace (made by the shim before the fork,
    so that this process is its PID 1) belongs to the host's user namespace, and proc may only
    be mounted by a process privileged over that one.
    """
    userns_fd = userns.new_user_namespace(host_root_id)
    try:
        rootfs = userns.idmapped_overlay(plan.lower_dirs, plan.upper, plan.work, userns_fd)
        attrs = linux.MOUNT_ATTR_NOSUID | linux.MOUNT_ATTR_NODEV | linux.MOUNT_ATTR_NOEXEC
        premade = PremadeMounts(
            rootfs,
            linux.fsmount_detached("proc", [], attrs),
            {},
            _etc_files(plan.etc_files, host_root_id),
        )

        def clone(mount: MountSpec, path: str) -> str:
            if not path:
                return ""  # a tmpfs, made inside
            fd = linux.open_tree_clone(path, recursive=True)
            premade.binds[f"/proc/self/fd/{fd}"] = fd
            if mount.idmap or mount.type == "volume":
                _idmap_volume(fd, userns_fd, mount)
            return f"/proc/self/fd/{fd}"

        # The unshared mount namespace takes our working directory along, not our fds.
        os.chdir(plan.staging)
        plan = replace(
            plan,
            rootfs=f"/proc/self/fd/{rootfs}",
            mount_sources=[
                clone(m, s) for m, s in zip(plan.spec.mounts, plan.mount_sources, strict=True)
            ],
        )
        os.setns(userns_fd, linux.CLONE_NEWUSER)
        userns.become_root()
    finally:
        os.close(userns_fd)
    return plan, premade


def _idmap_volume(mount_fd: int, userns_fd: int, mount: MountSpec) -> None:
    try:
        linux.idmap_mount(mount_fd, userns_fd, recursive=True)
    except OSError as error:
        what = f"volume {mount.source}" if mount.type == "volume" else f"bind {mount.source}"
        why = error.strerror
        if error.errno == errno.EINVAL:
            why = "its filesystem does not support idmapped mounts"
        raise RuntimeAgentError(f"{what} cannot be idmapped for {mount.target}: {why}") from None


def _etc_files(contents: dict[str, bytes], owner: int) -> dict[str, int]:
    """Each file, written to a detached tmpfs, as a detached bind mount of it."""
    attrs = linux.MOUNT_ATTR_NOSUID | linux.MOUNT_ATTR_NODEV
    files = linux.fsmount_detached("tmpfs", [("mode", "755"), ("size", "64k")], attrs)
    try:
        clones = {}
        for target, data in contents.items():
            name = os.path.basename(target)
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644, dir_fd=files)
            try:
                os.write(fd, data)
                os.fchown(fd, owner, owner)
            finally:
                os.close(fd)
            clones[target] = linux.open_tree_clone(f"/proc/self/fd/{files}/{name}")
        return clones
    finally:
        os.close(files)


def join_cgroup(procs_files: Sequence[str]) -> None:
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)


def stage_mounts(staging: str) -> None:
    """In a container process forked ahead: a mount namespace of its own with /dev, /proc and
    /sys (masked and read-only paths included) made under ``staging``, before any plan.

    They depend on nothing but the namespaces already made, so the start only moves them into
    the root filesystem: about twenty mounts fewer on the start path.
    """
    _private_tmpfs(staging)
    for name in ("dev", "proc", "sys"):
        os.mkdir(f"{staging}/{name}", 0o755)
    _mount_dev(f"{staging}/dev")
    linux.mount("proc", f"{staging}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    linux.mount("sysfs", f"{staging}/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
    _mask_paths(staging)


def _private_tmpfs(staging: str) -> None:
    """In a mount namespace just made: a tmpfs at ``staging`` seen by this process alone."""
    # Nothing done from here on may propagate back into the host's mount namespace.
    linux.mount(None, "/", None, MS_REC | MS_PRIVATE)
    linux.mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
    os.mkdir(f"{staging}/rootfs", 0o755)


def _mount_rootfs(
    plan: Plan, staged: str = "", premade: PremadeMounts | None = None
) -> None:
    """The container's root filesystem at ``plan.rootfs``; ``staged`` names where /dev, /proc
    and /sys wait already (see :func:`stage_mounts`); ``premade`` holds the mounts made before
    entering a user namespace (see :func:`enter_with_mounts`)."""
    spec = plan.spec
    root = plan.rootfs
    if premade:
        linux.mount(None, "/", None, MS_REC | MS_PRIVATE)
        linux.move_mount_fd(premade.rootfs, ".")  # the working directory is the mount point
    else:
        if not staged:
            _private_tmpfs(plan.staging)
        linux.mount_overlay(plan.lower_dirs, plan.upper, plan.work, root)
    for mount, source in zip(spec.mounts, plan.mount_sources, strict=True):
        if mount.type == "tmpfs":
            target = ensure_dir(root, mount.target)
            data = f"mode=1777,size={mount.tmpfs_size}" if mount.tmpfs_size else "mode=1777"
            linux.mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, data)
            continue
        if os.path.isdir(source):
            target = ensure_dir(root, mount.target)
        else:
            target = ensure_file(root, mount.target)
        _bind(source, target, MS_BIND | MS_REC, premade)
        if mount.readonly:
            linux.mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    proc = ensure_dir(root, "/proc")
    dev = ensure_dir(root, "/dev")
    sys_dir = ensure_dir(root, "/sys")
    if staged:
        linux.mount(f"{staged}/proc", proc, None, MS_MOVE)
        linux.mount(f"{staged}/dev", dev, None, MS_MOVE)
    elif premade:
        linux.move_mount_fd(premade.proc, proc)
        os.close(premade.proc)
        _mount_dev(dev, bind_devices=True)
    else:
        linux.mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        _mount_dev(dev)
    if not plan.new_net:
        # sysfs can only be mounted fresh from a network namespace of one's own.
        linux.mount("/sys", sys_dir, None, MS_BIND | MS_REC)
        linux.mount(None, sys_dir, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    elif staged:
        linux.mount(f"{staged}/sys", sys_dir, None, MS_MOVE)
    else:
        linux.mount("sysfs", sys_dir, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
    for container_path, contents in plan.etc_files.items():
        target = ensure_file(root, container_path)
        if premade:
            linux.move_mount_fd(premade.etc_files[container_path], target)
            continue
        # Readable by any user the image runs as; written where only this process sees it.
        source = f"{plan.staging}/{os.path.basename(container_path)}"
        fd = os.open(source, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, contents)
        finally:
            os.close(fd)
        linux.mount(source, target, None, MS_BIND)


def _bind(source: str, target: str, flags: int, premade: PremadeMounts | None) -> None:
    if premade:
        linux.move_mount_fd(premade.binds[source], target)  # cloned with the same flags
    else:
        linux.mount(source, target, None, flags)


def _mount_dev(dev: str, bind_devices: bool = False) -> None:
    linux.mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k")
    for name, major, minor in DEVICES:
        if bind_devices:
            # A user namespace may not make device nodes: the host's are bound, as runc does
            # in rootless mode.
            os.close(os.open(f"{dev}/{name}", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o666))
            linux.mount(f"/dev/{name}", f"{dev}/{name}", None, MS_BIND)
            continue
        linux.mknod(f"{dev}/{name}", stat.S_IFCHR | 0o666, major, minor)
        os.chmod(f"{dev}/{name}", 0o666)
    # No terminal is attached, so the console is a sink rather than the host's console.
    os.close(os.open(f"{dev}/console", os.O_CREAT | os.O_WRONLY, 0o600))
    linux.mount(f"{dev}/null", f"{dev}/console", None, MS_BIND)
    for target, name in DEV_SYMLINKS:
        os.symlink(target, f"{dev}/{name}")
    for sub in ("pts", "shm", "mqueue"):
        os.mkdir(f"{dev}/{sub}", 0o755)
    linux.mount(
        "devpts",
        f"{dev}/pts",
        "devpts",
        MS_NOSUID | MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620",
    )
    linux.mount(
        "shm", f"{dev}/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k"
    )
    linux.mount("mqueue", f"{dev}/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _pivot(root: str) -> None:
    os.chdir(root)
    # pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only ours.
    linux.pivot_root(".", ".")
    linux.umount2(".", MNT_DETACH)
    os.chdir("/")


def _mask_paths(prefix: str = "", under: tuple[str, ...] = ("/proc/", "/sys/")) -> None:
    """Docker's masked and read-only paths of /proc and /sys, found below ``prefix``."""
    for name in MASKED_PATHS:
        if not name.startswith(under):
            continue
        path = prefix + name
        try:
            if os.path.isdir(path):
                linux.mount("tmpfs", path, "tmpfs", MS_RDONLY)
            else:
                linux.mount("/dev/null", path, None, MS_BIND)
        except FileNotFoundError:
            continue
    for name in READONLY_PATHS:
        if not name.startswith(under):
            continue
        path = prefix + name
        try:
            linux.mount(path, path, None, MS_BIND | MS_REC)
            linux.mount(path, path, None, MS_BIND | MS_REC | MS_REMOUNT | MS_RDONLY)
        except FileNotFoundError:
            continue


def _lookup_user(user: str) -> tuple[int, int, list[int], str]:
    """uid, gid, supplementary groups and home for ``name|uid[:group|gid]`` in the new root."""
    name, _, group = user.partition(":")
    uid, gid, home = 0, 0, "/"
    login = None
    passwd = _read_db("/etc/passwd")
    if name.isdigit():
        uid = int(name)
        entry = next((e for e in passwd if e[2] == name), None)
    else:
        entry = next((e for e in passwd if e[0] == name), None)
        if entry is None:
            raise StartFailed(f"unable to find user {name}: no matching entries in passwd file")
        uid = int(entry[2])
    if entry is not None:
        login, gid, home = entry[0], int(entry[3]), entry[5]
    groups_db = _read_db("/etc/group")
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            found = next((g for g in groups_db if g[0] == group), None)
            if found is None:
                raise StartFailed(
                    f"unable to find group {group}: no matching entries in group file"
                )
            gid = int(found[2])
    extra = [int(g[2]) for g in groups_db if login and login in g[3].split(",") and g[2].isdigit()]
    return uid, gid, sorted({gid, *extra}), home


def _read_db(path: str) -> list[list[str]]:
    try:
        with open(path) as f:
            return [line.rstrip("\n").split(":") for line in f if line.count(":") >= 3]
    except FileNotFoundError:
        return []


def drop_privileges(spec: ContainerSpec, user: str) -> dict[str, str]:
    """Bounding set, user, capabilities and no_new_privs; returns the HOME to default to."""
    keep = 0
    for cap in spec.capabilities:
        keep |= 1 << CAPABILITY_NUMBERS[cap]
    for cap in range(linux.cap_last_cap() + 1):
        if not keep & (1 << cap):
            linux.prctl(linux.PR_CAPBSET_DROP, cap)
    linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_CLEAR_ALL)
    extra_env: dict[str, str] = {}
    uid, gid, groups, home = _lookup_user(user) if user else (0, 0, [0], "/root")
    extra_env["HOME"] = home
    os.setgroups(groups)
    os.setgid(gid)
    # A non-root uid loses every capability here, as under Docker; root keeps the default set.
    os.setuid(uid)
    if uid == 0:
        linux.capset(keep, keep, 0)
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    return extra_env


def resolve_executable(arg0: str, env: dict[str, str]) -> str:
    if "/" in arg0:
        candidates = [arg0]
    else:
        candidates = [f"{d or '.'}/{arg0}" for d in env.get("PATH", "").split(":")]
    for path in candidates:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            if not os.access(path, os.X_OK):
                raise StartFailed(f'exec: "{arg0}": permission denied', 126)
            return path
    if "/" in arg0:
        raise StartFailed(f'exec: "{arg0}": stat {arg0}: no such file or directory', 127)
    raise StartFailed(f'exec: "{arg0}": executable file not found in $PATH', 127)


def reset_signals() -> None:
    # Python ignores SIGPIPE and SIGXFSZ; ignored dispositions would survive execve.
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def setup_and_exec(
    plan: Plan,
    net_ready_fd: int,
    net_go_fd: int,
    cgroup_fd: int,
    unshared: int = 0,
    host_net: int = -1,
    staged: str = "",
    console_fd: int = -1,
) -> None:
    """Runs as PID 1 of the new PID namespace; returns only by raising.

    The shim moves us into the container's cgroups meanwhile; ``cgroup_fd`` says when. A
    process forked ahead has made the ``unshared`` namespaces already (the network one
    included, with ``lo`` up), holds the host's network namespace as ``host_net`` and, with
    the mount namespace, has its special filesystems ``staged``.
    """
    spec = plan.spec
    if staged:
        # The same directory by construction; this process's copy of the plan.
        plan.staging, plan.rootfs = staged, f"{staged}/rootfs"
    premade = None
    if plan.host_root_id is not None:
        # First, so that every namespace unshared below belongs to it (never forked ahead).
        plan, premade = enter_with_mounts(plan, plan.host_root_id)
    if unshared & linux.CLONE_NEWNET and not plan.new_net:
        os.setns(host_net, linux.CLONE_NEWNET)
    os.unshare(namespace_flags(plan) & ~unshared)
    mark("child: unshared")
    if net_ready_fd >= 0:
        os.write(net_ready_fd, b"1")
        os.close(net_ready_fd)
        reply = os.read(net_go_fd, 4096)
        os.close(net_go_fd)
        if reply != b"ok":
            raise StartFailed(f"network setup failed: {reply.decode(errors='replace')}")
        if plan.attachment:
            configure_inside(plan.attachment)
    if plan.new_net and not unshared & linux.CLONE_NEWNET:
        linux.link_up("lo")
    linux.sethostname(spec.hostname)
    _mount_rootfs(plan, staged, premade)
    mark("child: rootfs mounted")
    workdir_host = ensure_dir(plan.rootfs, spec.workdir)
    _pivot(plan.rootfs)
    mark("child: pivoted")
    if not staged:
        _mask_paths()
    elif not plan.new_net:
        _mask_paths(under=("/sys/",))  # the host's /sys, bound in at start
    mark("child: paths masked")
    if spec.read_only:
        linux.mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    env = dict(e.partition("=")[::2] for e in spec.env)
    reply = os.read(cgroup_fd, 4096)
    mark("child: cgroup reply")
    os.close(cgroup_fd)
    if reply != b"ok":
        raise StartFailed(reply.decode(errors="replace") or "the shim did not join the cgroup")
    # Only now, inside its cgroups, so that those become the root the container sees.
    os.unshare(linux.CLONE_NEWCGROUP)
    if spec.tty or spec.open_stdin:
        _open_stdin(spec, console_fd)
    _set_ulimits(spec)
    extra = drop_privileges(spec, spec.user)
    for key, value in extra.items():
        env.setdefault(key, value)
    os.chdir("/" + os.path.relpath(workdir_host, plan.rootfs).lstrip("."))
    executable = resolve_executable(spec.args[0], env)
    if plan.seccomp_bpf:
        linux.seccomp_set_filter(plan.seccomp_bpf)
    reset_signals()
    mark("child: exec")
    if spec.init:
        _run_init(executable, spec.args, env, spec.tty)
    os.execve(executable, spec.args, env)


def _set_ulimits(spec: ContainerSpec) -> None:
    for limit in spec.ulimits:
        kind = getattr(resource, f"RLIMIT_{limit.name.upper()}")
        wanted = tuple(resource.RLIM_INFINITY if v == -1 else v for v in (limit.soft, limit.hard))
        try:
            resource.setrlimit(kind, wanted)
        except (ValueError, OSError):
            # Above the agent's own hard limit: raising it needs CAP_SYS_RESOURCE.
            _, hard = resource.getrlimit(kind)
            most = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
            raise StartFailed(
                f"setrlimit {limit.name}={limit.soft}:{limit.hard}: above this host's hard "
                f"limit of {most}"
            ) from None


def _open_stdin(spec: ContainerSpec, console_fd: int) -> None:
    """With -t, a terminal of the container's own devpts as stdin, stdout and stderr (as runc
    makes it); with -i alone, a pipe as stdin. The other end goes to the shim, which serves
    attach with it."""
    if spec.tty:
        # With --init, the init's child leads the terminal's session instead.
        open_terminal(spec.user, console_fd, stdin_too=True, control=not spec.init)
        return
    stdin_r, ours = os.pipe()
    os.dup2(stdin_r, 0)
    os.close(stdin_r)
    _send_fd(console_fd, ours)


def open_terminal(user: str, channel_fd: int, stdin_too: bool, control: bool = True) -> None:
    """A terminal as stdout and stderr (and stdin, ``stdin_too``), owned by ``user``, whose
    master goes through ``channel_fd``. Made inside the container's mount namespace, so that
    /dev/ptmx is its devpts': the terminal is /dev/pts/N there, as runc makes it."""
    master, terminal = os.openpty()
    if user:
        uid, gid, _, _ = _lookup_user(user)
        os.fchown(terminal, uid, gid)
    if control:
        _control_terminal(terminal)
    for fd in (0, 1, 2) if stdin_too else (1, 2):
        os.dup2(terminal, fd)
    os.close(terminal)
    _send_fd(channel_fd, master)


def _send_fd(channel_fd: int, fd: int) -> None:
    channel = socket.socket(fileno=channel_fd)
    try:
        socket.send_fds(channel, [b"c"], [fd])
    finally:
        channel.close()
        os.close(fd)


def _control_terminal(fd: int) -> None:
    """Make ``fd`` our controlling terminal, in a session of our own (job control, ^C)."""
    os.setsid()
    fcntl.ioctl(fd, termios.TIOCSCTTY, 0)


def _run_init(executable: str, args: list[str], env: dict[str, str], tty: bool = False) -> None:
    """A minimal PID 1: forward signals to the one child, reap every zombie, exit as it did."""
    forwarded = [
        s for s in signal.Signals if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD)
    ]
    # PID 1 drops a signal it has no handler for: one sent between the child's start and our
    # handlers (a stop right after the child's first output) waits, blocked, until they are in.
    signal.pthread_sigmask(signal.SIG_BLOCK, forwarded)
    exec_r, exec_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(exec_r)
            if tty:
                _control_terminal(0)
            else:
                os.setsid()
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            os.execve(executable, args, env)
        except BaseException as e:  # noqa: BLE001 - reported to the init through the pipe
            os.write(exec_w, str(e).encode())
        finally:
            os._exit(127)
    for sig in forwarded:
        try:
            signal.signal(sig, lambda signum, _frame: os.kill(child, signum))
        except (OSError, ValueError):
            continue
    signal.pthread_sigmask(signal.SIG_UNBLOCK, forwarded)
    os.close(exec_w)
    failure = os.read(exec_r, 4096)
    os.close(exec_r)
    if failure:
        raise StartFailed(failure.decode(errors="replace"), 127)
    # The shim learns that the start succeeded when every copy of its error pipe is closed.
    os.closerange(3, 1 << 20)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


def exit_code_for(error: BaseException) -> int:
    if isinstance(error, StartFailed):
        return error.exit_code
    if isinstance(error, OSError) and error.errno in (errno.ENOENT,):
        return 127
    return 128
