"""User namespaces for containers: host id ranges, the namespace itself, idmapped image layers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from runtime_agent.errors import RuntimeAgentError
from runtime_agent.kernel import linux
from runtime_agent.kernel.files import locked_table

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
