"""User namespaces for containers: host id ranges, the namespace itself, idmapped image layers."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from runtime_agent.container.state import locked_table
from runtime_agent.errors import RuntimeAgentError
from runtime_agent.kernel import linux

if TYPE_CHECKING:
    from runtime_agent.container.process import Plan
    from runtime_agent.container.spec import MountSpec

ID_COUNT = 65536  # ids 0-65535 inside, as podman's --userns=auto gives by default
# Ids from 2^31 on are negative to tools that keep them in a signed int; ranges stay below.
ID_LIMIT = 1 << 31


class IdRanges:
    """Hands each container a range of host uids and gids of its own, from ``base`` on.

    One range per container rather than Docker's single remap range for all: root of one
    container then owns nothing of another's, files included. Allocated like the IPAM's
    addresses, under a lock in the state dir, the next free one after the last handed out.
    """

    def __init__(self, state_dir: Path, base: int) -> None:
        if base < ID_COUNT:
            # Below, container root would be a host system user, or host root itself.
            raise RuntimeAgentError(f"BERTH_USERNS_BASE must be at least {ID_COUNT}, not {base}")
        self.base = base
        self.slots = max(0, (ID_LIMIT - base) // ID_COUNT)
        self.path = state_dir / "userns" / "ranges.json"

    def _table(self) -> AbstractContextManager[dict[str, Any]]:
        return locked_table(self.path, lambda: {"allocated": {}, "last": -1})

    def allocate(self, container_id: str) -> int:
        """The first host id of the container's range (the same one on every call)."""
        with self._table() as data:
            allocated: dict[str, str] = data["allocated"]  # type: ignore[assignment]
            for start, owner in allocated.items():
                if owner == container_id:
                    return int(start)
            last = int(data["last"])  # type: ignore[call-overload]
            first_slot = (last - self.base) // ID_COUNT + 1 if last >= self.base else 0
            for offset in range(self.slots):
                start = self.base + (first_slot + offset) % self.slots * ID_COUNT
                if str(start) not in allocated:
                    allocated[str(start)] = container_id
                    data["last"] = start
                    return start
        raise RuntimeAgentError(
            f"no free user namespace id range: all {self.slots} ranges of {ID_COUNT} ids "
            f"from {self.base} are in use"
        )

    def release(self, container_id: str) -> None:
        with self._table() as data:
            allocated: dict[str, str] = data["allocated"]  # type: ignore[assignment]
            for start in [s for s, owner in allocated.items() if owner == container_id]:
                del allocated[start]

    def allocations(self) -> dict[int, str]:
        with self._table() as data:
            return {int(s): owner for s, owner in data["allocated"].items()}  # type: ignore[attr-defined]


def new_user_namespace(host_root_id: int) -> int:
    """A user namespace whose ids 0-65535 are the host's from ``host_root_id`` on, as an fd.

    Made by a short-lived child: unsharing it ourselves would cost the host privileges that
    the idmapped mounts still need, and only a process outside it may write a map of more than
    one id. The child makes it and waits while we map it and take hold of it.
    """
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(ready_r)
            os.close(done_w)
            os.unshare(linux.CLONE_NEWUSER)
            # /proc is the host's still: its name for us, which the pid fork returned is not
            # when our parent is PID 1 of a namespace of its own.
            os.write(ready_w, os.readlink("/proc/self").encode())
            os.read(done_r, 1)
            code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(done_r)
    try:
        host_pid = os.read(ready_r, 32).decode()
        if not host_pid:
            raise OSError("the process making the user namespace failed")
        mapping = f"0 {host_root_id} {ID_COUNT}\n".encode()
        for name in ("uid_map", "gid_map"):
            fd = os.open(f"/proc/{host_pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, mapping)
            finally:
                os.close(fd)
        return os.open(f"/proc/{host_pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)


def idmapped_overlay(lower_dirs: Sequence[str], upper: str, work: str, userns_fd: int) -> int:
    """The container's root filesystem as a detached mount whose image layers are idmapped.

    Layers are shared by every container and owned by host root on disk: through the mapping
    they show as owned by the container's root without a chown. Made from outside the user
    namespace (idmapping needs the host's CAP_SYS_ADMIN), as Docker mounts a remapped overlay.
    """
    layers: list[int] = []
    try:
        for lower in lower_dirs:
            layers.append(linux.open_tree_clone(lower))
            linux.idmap_mount(layers[-1], userns_fd)
        # Paths to detached mounts, of which overlay takes private clones: recent kernels only
        # (6.18 here; before, layers had to be attached in our mount namespace).
        lowerdir = ":".join(f"/proc/self/fd/{fd}" for fd in layers)
        return linux.fsmount_detached(
            "overlay", [("lowerdir", lowerdir), ("upperdir", upper), ("workdir", work)]
        )
    finally:
        for fd in layers:
            os.close(fd)


def become_root() -> None:
    """Just after joining a user namespace: be its root, with the capabilities it grants."""
    # Until then our ids are the host's, unmapped inside: setuid() to another user would
    # keep the capabilities, which it drops only when leaving the namespace's root.
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    os.setgroups([0])


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
    userns_fd = new_user_namespace(host_root_id)
    try:
        rootfs = idmapped_overlay(plan.lower_dirs, plan.upper, plan.work, userns_fd)
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
        become_root()
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
