"""The runtime's Python API: containers from create to remove, as the agent and CLI use them."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import json
import os
import select
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from runtime_agent.container import shim
from runtime_agent.container.enter import NAMESPACES, USERNS_NAMESPACES, exec_child
from runtime_agent.container.process import Plan
from runtime_agent.container.spec import (
    HOST_GATEWAY,
    ContainerSpec,
    HealthCheck,
    MountSpec,
    RestartPolicy,
    RunOptions,
    name_problem,
)
from runtime_agent.container.state import (
    BLANK_PREFIX,
    Container,
    State,
    Status,
)
from runtime_agent.errors import Conflict, InvalidSpec, NoSuchContainer, StartFailed
from runtime_agent.isolation.network import BridgeNetwork, hosts_file, resolv_conf, veth_name
from runtime_agent.isolation.volumes import VolumeStore
from runtime_agent.kernel import cgroups, seccomp
from runtime_agent.kernel.cgroups import Cgroup, Resources
from runtime_agent.kernel.files import atomic_write, locked_table
from runtime_agent.kernel.userns import IdRanges
from runtime_agent.runtime.settings import Settings
from runtime_agent.trace import mark

if TYPE_CHECKING:
    from runtime_agent.container.zygote import ZygoteClient
    from runtime_agent.images import ImageStore


class ImageLike(Protocol):
    """What the runtime needs from an image (``runtime_agent.images.Image`` has it)."""

    id: str
    config: dict[str, Any]
    layer_dirs: list[Path]


@dataclass
class LogEntry:
    time: str
    stream: str
    data: bytes


@dataclass
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


# What the container process mounts over, made once in a lower layer shared by every container
# (Docker's "-init" layer): otherwise each start copies /etc up into its upper dir and creates
# these files there, metadata writes that a busy disk journal makes cost milliseconds each.
MOUNT_TARGET_DIRS = ("dev", "etc", "proc", "sys")
MOUNT_TARGET_FILES = ("etc/hostname", "etc/hosts", "etc/resolv.conf")


class Janitor:
    """File work kept off the caller's path: directories renamed out of the way are deleted,
    and a blank container directory is kept ready.

    A removed container is gone as soon as its directory is renamed, and a new one needs only
    its blank directory filled and renamed: each file or directory made or deleted is a
    metadata write, slow behind a busy journal (80-250 us here, tens of milliseconds at
    worst). ``tidy``, where given, has that work done elsewhere (the shim helper does it);
    without (a one-shot command), deletions are done at once and blanks made on demand.
    """

    def __init__(self, trash: Path, scratch: Path, tidy: Callable[[], None] | None) -> None:
        self.trash = trash
        self.scratch = scratch
        self._tidy = tidy

    def put(self, path: Path, wait: bool = False) -> None:
        self.trash.mkdir(exist_ok=True)
        doomed = self.trash / f"{path.name}.{os.urandom(4).hex()}"
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return
        if wait or self._tidy is None:
            shutil.rmtree(doomed, ignore_errors=True)
        else:
            self._tidy()

    def take_blank(self) -> Path | None:
        """A blank container directory (see :func:`make_blank`) made ahead, if one is ready;
        another process may take it first, so a caller is ready to make its own."""
        if self._tidy is None:
            return None
        try:
            with os.scandir(self.scratch) as entries:
                blank = next(
                    (Path(e.path) for e in entries if e.name.startswith(BLANK_PREFIX)), None
                )
        except FileNotFoundError:
            blank = None
        self._tidy()
        return blank


class Runtime:
    def __init__(
        self,
        state_dir: Path | str | None = None,
        *,
        images: ImageStore | None = None,
        bridge: str | None = None,
        subnet: str | None = None,
        cgroup_root: str | None = None,
        cgroup_mount: Path = cgroups.CGROUP_MOUNT,
        zygote: bool = True,
    ) -> None:
        """``zygote`` forks shims from a small helper interpreter, started once, rather than
        from this process: the right choice for a long-lived agent, not for a one-shot CLI."""
        settings = Settings.from_env()
        self.state_dir = Path(state_dir) if state_dir else settings.state_dir
        self.containers_dir = self.state_dir / "containers"
        self.containers_dir.mkdir(parents=True, exist_ok=True)
        # Always empty on the host: each container process mounts a private tmpfs on it. The
        # root of a user namespace attaches its root filesystem there, so it may search it.
        self.staging_dir = self.state_dir / "staging"
        self.staging_dir.mkdir(exist_ok=True)
        self.staging_dir.chmod(0o755)
        self._images = images
        self.volumes = VolumeStore(self.state_dir)
        self.network = BridgeNetwork(
            self.state_dir, bridge or settings.bridge, subnet or settings.subnet
        )
        self.cgroup_root = cgroup_root or settings.cgroup_root
        self.id_ranges = IdRanges(self.state_dir, settings.userns_base)
        self.cgroup_mount = cgroup_mount
        self._bridge_ready = False
        self._unified = cgroups.is_unified(cgroup_mount)
        self._cgroups: dict[str, Cgroup] = {}
        if images is not None:
            self._attach(images)
        self._mount_targets: Path | None = None
        self._done: dict[str, int] = {}  # container id -> pipe its shim closes at the exit
        self._zygote: ZygoteClient | None = None
        trash, scratch = self.state_dir / "trash", self.state_dir / "creating"
        if zygote:
            from runtime_agent.container.zygote import ZygoteClient

            spare = None if self._unified else (self.cgroup_root, self.cgroup_mount)
            self._zygote = ZygoteClient(
                spare, self.staging_dir, (trash, scratch), preload=(release_container.__module__,)
            )
        self.janitor = Janitor(trash, scratch, self._zygote.tidy if self._zygote else None)

    def close(self) -> None:
        """Stop the shim helper; containers and their shims keep running."""
        if self._zygote is not None:
            self._zygote.close()

    @property
    def images(self) -> ImageStore:
        if self._images is None:
            from runtime_agent.images import ImageStore

            self._images = self._attach(ImageStore(self.state_dir))
        return self._images

    def _attach(self, images: ImageStore) -> ImageStore:
        """Let the image store ask which containers use an image before it removes one."""
        sources = getattr(images, "holder_sources", None)
        if sources is not None:
            sources.append(self._containers_using)
        return images

    def _containers_using(self, image_id: str) -> list[str]:
        found = []
        for directory in self.containers_dir.iterdir():
            try:
                config = json.loads((directory / "config.json").read_bytes())
            except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
                continue
            if config.get("image_id") == image_id:
                found.append(directory.name)
        return found

    # Lookup -------------------------------------------------------------------

    def get(self, ref: str) -> Container:
        """By full id, name or unique id prefix, as docker resolves them."""
        direct = self.containers_dir / ref
        if len(ref) == 64 and (direct / "config.json").exists():
            return Container(direct)
        with self._names() as names:
            named = names.get(ref.lstrip("/"))
        if named and (self.containers_dir / named / "config.json").exists():
            return Container(self.containers_dir / named)
        matches = [d for d in self.containers_dir.iterdir() if d.name.startswith(ref)]
        if len(matches) == 1:
            return Container(matches[0])
        if len(matches) > 1:
            raise Conflict(f"multiple IDs found with provided prefix: {ref}")
        raise NoSuchContainer(ref)

    def _names(self) -> AbstractContextManager[dict[str, str]]:
        """Container names in use (name -> id), under a lock every process's create and remove
        take: two creates of one name cannot both succeed, and a create reads one small file
        rather than every container's config."""
        # A state dir from before the index has its names in the configs.
        return locked_table(self.state_dir / "names.json", self._names_from_configs)

    def _names_from_configs(self) -> dict[str, str]:
        names = {}
        for directory in self.containers_dir.iterdir():
            try:
                names[json.loads((directory / "config.json").read_bytes())["name"]] = directory.name
            except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, KeyError):
                continue
        return names

    def _check_name(self, names: dict[str, str], name: str) -> None:
        holder = names.get(name)
        # Taken only with the directory in place, so a claim without one is a crash's leftover.
        if holder and (self.containers_dir / holder).is_dir():
            raise Conflict(
                f'Conflict. The container name "/{name}" is already in use by container '
                f'"{holder}". You have to remove (or rename) that container to be able to reuse that name.'
            )

    def _release_name(self, name: str, container_id: str) -> None:
        with self._names() as names:
            if names.get(name) == container_id:
                del names[name]

    def list(self, all: bool = False) -> list[Container]:
        found = []
        for directory in self.containers_dir.iterdir():
            if not (directory / "state.json").exists():
                continue
            container = Container(directory)
            try:
                state = self.reconcile(container)
            except NoSuchContainer:
                continue
            if all or state.running:
                found.append(container)
        return sorted(found, key=lambda c: c.spec.created, reverse=True)

    def cgroup(self, container_id: str) -> Cgroup:
        cgroup = self._cgroups.get(container_id)
        if cgroup is None:
            cgroup = cgroups.cgroup_for(
                container_id, self.cgroup_root, self.cgroup_mount, self._unified
            )
            if len(self._cgroups) > 1024:
                self._cgroups.clear()
            self._cgroups[container_id] = cgroup
        return cgroup

    # Create / start -----------------------------------------------------------------

    def create(self, image: str | ImageLike, options: RunOptions | None = None) -> Container:
        mark("create")
        options = options or RunOptions()
        if isinstance(image, str):
            ref, img = image, self.images.get(image)
        else:
            img = image
            ref = next(
                iter(getattr(img, "references", None) or getattr(img, "repo_tags", None) or []),
                img.id,
            )
        spec = ContainerSpec.from_image(ref, img.id, img.config, img.layer_dirs, options)
        spec.validate()
        spec.mounts = [self._volume_source(m) for m in spec.mounts]
        container = Container(self.containers_dir / spec.id, spec)
        try:
            # The cgroup itself is made at start, as Docker's runtime does: a standby shim has
            # one ready, with the container's process forked ahead already inside it.
            self.cgroup(spec.id).check(spec.resources)
            ip = None
            if spec.network == "bridge":
                if not self._bridge_ready:
                    self.network.ensure()
                    self._bridge_ready = True
                ip = self.network.allocate(spec.id).ip
                self.network.publish(spec.id, ip, spec.ports)
            host_root = self.id_ranges.allocate(spec.id) if spec.private_userns else None
            # Under the image store's lock until the directory is in place: an image removed
            # meanwhile is either gone first (and this create fails) or sees this container.
            using = getattr(self._images, "using", None)
            # Likewise under the names' lock: a name is taken with its directory in place.
            with (
                using(spec.image_id) if using else contextlib.nullcontext(),
                self._names() as names,
            ):
                self._check_name(names, spec.name)
                Container.create(
                    container.dir,
                    spec,
                    State(ip_address=ip or ""),
                    self.state_dir / "creating",
                    owner=host_root,
                    blank=self.janitor.take_blank(),
                )
                names[spec.name] = spec.id
            mark("create: state written")
        except BaseException:
            self._release(container)
            raise
        mark("create: done")
        return container

    def _volume_source(self, mount: MountSpec) -> MountSpec:
        if mount.type != "volume":
            return mount
        return dataclasses.replace(mount, source=self.volumes.ensure(mount.source).ref)

    def mount_targets_layer(self) -> Path:
        """The shared lower layer holding the runtime's mount targets, made on first use."""
        if self._mount_targets is None:
            path = self.state_dir / "mount-targets"
            if not path.is_dir():
                tmp = Path(tempfile.mkdtemp(prefix=".mount-targets.", dir=self.state_dir))
                # The topmost layer's attributes win for a merged directory, "/" included.
                tmp.chmod(0o755)
                for name in MOUNT_TARGET_DIRS:
                    (tmp / name).mkdir(0o755)
                for name in MOUNT_TARGET_FILES:
                    (tmp / name).touch(0o644)
                try:
                    tmp.rename(path)
                except OSError:  # another runtime on this state dir made it first
                    shutil.rmtree(tmp, ignore_errors=True)
            self._mount_targets = path
        return self._mount_targets

    def plan_for_copy(self, container: Container) -> CopyPlan:
        """A stopped container's root filesystem, to mount for ``cp``."""
        lower = [str(self.mount_targets_layer()), *reversed(container.spec.layer_dirs)]
        return CopyPlan(lower, str(container.upper), str(container.work))

    def _plan(self, container: Container) -> Plan:
        spec = container.spec
        sources = []
        for mount in spec.mounts:
            if mount.type == "volume":
                sources.append(self.volumes.get(mount.source).mountpoint)
            else:
                sources.append(mount.source if mount.type == "bind" else "")
        attachment = None
        if spec.network == "bridge":
            attachment = self.network.allocate(spec.id)
        if spec.network == "host":
            hosts = Path("/etc/hosts").read_text()
        else:
            extra = []
            for entry in spec.extra_hosts:
                name, _, address = entry.partition(":")
                extra.append(
                    (name, str(self.network.gateway) if address == HOST_GATEWAY else address)
                )
            hosts = hosts_file(spec.hostname, attachment.ip if attachment else None, extra)
        return Plan(
            spec=spec,
            lower_dirs=[str(self.mount_targets_layer()), *reversed(spec.layer_dirs)],
            upper=str(container.upper),
            work=str(container.work),
            staging=str(self.staging_dir),
            rootfs=f"{self.staging_dir}/rootfs",
            mount_sources=sources,
            etc_files={
                "/etc/hosts": hosts.encode(),
                "/etc/resolv.conf": resolv_conf(servers=spec.dns, search=spec.dns_search).encode(),
                "/etc/hostname": f"{spec.hostname}\n".encode(),
            },
            seccomp_bpf=seccomp.default_filter(spec.capabilities, self.state_dir / "seccomp"),
            new_net=spec.network != "host",
            attachment=attachment,
            host_root_id=self.id_ranges.allocate(spec.id) if spec.private_userns else None,
        )

    def start(self, ref: str | Container) -> Container:
        mark("start")
        container = ref if isinstance(ref, Container) else self.get(ref)
        # Starts of one container take turns on its config file (never rewritten): a lock that
        # costs no file of its own. The directory itself is the state's lock (Container.update).
        try:
            lock = os.open(container.dir / "config.json", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NoSuchContainer(container.id) from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with container.update() as st:
                if st.running:
                    return container
                if Status.RUNNING not in _allowed(st):
                    raise Conflict(f"cannot start a container in state {st.status}")
                st.stop_requested = False
            spec = container.spec
            args = (
                container,
                self._plan(container),
                self.cgroup(spec.id),
                self.network if spec.network == "bridge" else None,
                functools.partial(
                    release_container,
                    self.state_dir,
                    self.network.bridge,
                    str(self.network.subnet),
                    self.cgroup_root,
                    self.cgroup_mount,
                    spec.id,
                ),
            )
            mark("start: planned")
            try:
                if self._zygote is not None:
                    # Closed by the shim once it has recorded the exit: what wait() wakes on.
                    done_r, done_w = os.pipe()
                    try:
                        self._zygote.spawn(*args, done_fd=done_w)
                    finally:
                        os.close(done_w)
                        _close(self._done.pop(spec.id, -1))
                        self._done[spec.id] = done_r
                else:
                    shim.spawn(*args)
            except StartFailed:
                # The shim records the failed start; callers then see an exited container.
                self._wait_stopped(container)
                raise
        finally:
            os.close(lock)
        mark("start: done")
        return container

    def run(self, image: str | ImageLike, options: RunOptions | None = None) -> Container:
        container = self.create(image, options)
        try:
            return self.start(container)
        except StartFailed:
            if container.spec.auto_remove:
                self._release(container)
            raise

    # Stop / kill / wait -----------------------------------------------------------------

    def reconcile(self, container: Container) -> State:
        """A container whose shim is gone (killed, host rebooted) cannot be running."""
        state = container.state
        if not state.running or shim.process_start_time(state.shim_pid) == state.shim_start:
            return state
        with container.update() as st:
            if st.running and shim.process_start_time(st.shim_pid) != st.shim_start:
                container.transition(
                    st, Status.EXITED if st.status == Status.RUNNING else Status.EXITED
                )
                st.exit_code = st.exit_code or 255
                st.error = "container supervisor (shim) exited unexpectedly"
                st.pid = st.shim_pid = 0
            return st

    def wait(self, ref: str | Container, timeout: float | None = None) -> int:
        """Block until the current run exits; returns its exit code."""
        mark("wait")
        container = ref if isinstance(ref, Container) else self.get(ref)
        deadline = None if timeout is None else time.monotonic() + timeout
        state = container.state
        if not state.running:
            return state.exit_code
        generation = state.generation
        try:
            pidfd = os.pidfd_open(state.shim_pid)
        except ProcessLookupError:
            return self.reconcile(container).exit_code
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            step = 0.002
            if container.spec.restart.name == "no":
                # Without restarts the shim exits right after recording the exit, and closes
                # the pipe a start through the zygote gave it even before: one wakeup.
                done = self._done.get(container.id, -1)
                if done >= 0:
                    poller.register(done, select.POLLIN)
                poller.poll(
                    None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
                )
                mark("wait: shim exited")
            while True:
                state = container.state
                if (
                    not state.running
                    or state.generation != generation
                    or (state.status == Status.RESTARTING and state.finished_at)
                ):
                    return state.exit_code
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"container {container.id[:12]} still running")
                if poller.poll(step * 1000):
                    return self.reconcile(container).exit_code
                step = min(step * 2, 0.05)
        finally:
            os.close(pidfd)

    def kill(self, ref: str | Container, sig: int = signal.SIGKILL) -> None:
        container = ref if isinstance(ref, Container) else self.get(ref)
        with container.update() as st:
            if st.status != Status.RUNNING or not st.pid:
                raise Conflict(
                    f"Cannot kill container: {container.id}: Container {container.id} is not running"
                )
            if sig == signal.SIGKILL:
                st.stop_requested = True
            pid = st.pid
            # A frozen process takes its signal only once thawed: as Docker, kill unpauses.
            self._thaw(container, st)
        _signal(pid, sig)

    def update(
        self,
        ref: str | Container,
        resources: Resources | None = None,
        restart: RestartPolicy | None = None,
    ) -> None:
        """Change the limits of a container, running ones at once (``docker update``); given
        fields replace the container's, others stay. A new restart policy applies from the next
        start: a running shim keeps the policy it started with."""
        container = ref if isinstance(ref, Container) else self.get(ref)
        spec = container.spec
        given = {
            k: v for k, v in dataclasses.asdict(resources or Resources()).items() if v is not None
        }
        updated = dataclasses.replace(
            spec,
            resources=dataclasses.replace(spec.resources, **given),
            restart=restart or spec.restart,
        )
        updated.validate()
        with container.locked() as st:
            if st.running:
                cgroup = self.cgroup(container.id)
                cgroup.check(updated.resources)
                try:
                    cgroup.apply(updated.resources)
                except OSError as e:
                    # EBUSY: a memory limit below what the container uses now.
                    raise Conflict(
                        f"Cannot update container {container.id}: {e.strerror}"
                    ) from None
            atomic_write(container.dir / "config.json", json.dumps(updated.to_dict()).encode())
            container.__dict__["spec"] = updated

    def rename(self, ref: str | Container, new_name: str) -> None:
        container = ref if isinstance(ref, Container) else self.get(ref)
        spec = container.spec
        problem = name_problem(new_name)
        if problem:
            raise InvalidSpec(problem)
        renamed = dataclasses.replace(spec, name=new_name)
        if new_name == spec.name:
            raise Conflict(
                f"Renaming a container with the same name as its current name: {new_name}"
            )
        with self._names() as names, container.locked():
            self._check_name(names, new_name)
            atomic_write(container.dir / "config.json", json.dumps(renamed.to_dict()).encode())
            names.pop(spec.name, None)
            names[new_name] = container.id
            container.__dict__["spec"] = renamed

    def diff(self, ref: str | Container) -> list[tuple[str, str]]:
        """What the container changed in its image: (kind, path) with kind A(dded), C(hanged) or
        D(eleted), as ``docker diff`` lists them, from its writable layer."""
        container = ref if isinstance(ref, Container) else self.get(ref)
        layers = [Path(d) for d in container.spec.layer_dirs]
        upper = container.upper
        changes = []
        for directory, subdirs, files in os.walk(upper):
            for name in sorted([*subdirs, *files]):
                path = Path(directory, name)
                inside = "/" + str(path.relative_to(upper))
                st = path.lstat()
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:  # an overlay whiteout
                    changes.append(("D", inside))
                elif any((layer / inside.lstrip("/")).exists() for layer in layers):
                    changes.append(("C", inside))
                else:
                    changes.append(("A", inside))
            subdirs.sort()
        return sorted(changes, key=lambda change: change[1])

    def prune(self) -> list[str]:
        """Remove every container that is not running; the ids removed."""
        removed = []
        for container in self.list(all=True):
            if container.state.status in (Status.EXITED, Status.CREATED, Status.DEAD):
                with contextlib.suppress(Conflict, NoSuchContainer):
                    self.remove(container)
                    removed.append(container.id)
        return removed

    def top(self, ref: str | Container) -> list[ProcessInfo]:
        """The container's processes, as ``docker top`` lists them (host pids and users)."""
        container = ref if isinstance(ref, Container) else self.get(ref)
        if not self.reconcile(container).running:
            raise Conflict(f"Container {container.id} is not running")
        found = []
        for pid in self.cgroup(container.id).pids():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                found.append(_process_info(pid))
        return found

    # Pause ---------------------------------------------------------------------

    def pause(self, ref: str | Container) -> None:
        """Freeze every process of the container (the freezer cgroup), as ``docker pause``."""
        container = ref if isinstance(ref, Container) else self.get(ref)
        self.reconcile(container)
        with container.update() as st:
            if st.status != Status.RUNNING:
                raise Conflict(f"Container {container.id} is not running")
            if st.paused:
                raise Conflict(f"Container {container.id} is already paused")
            self.cgroup(container.id).freeze()
            st.paused = True

    def unpause(self, ref: str | Container) -> None:
        container = ref if isinstance(ref, Container) else self.get(ref)
        with container.update() as st:
            if not st.paused:
                raise Conflict(f"Container {container.id} is not paused")
            self._thaw(container, st)

    def _thaw(self, container: Container, st: State) -> None:
        if st.paused:
            self.cgroup(container.id).thaw()
            st.paused = False

    def stop(self, ref: str | Container, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; the restart policy does not apply."""
        container = ref if isinstance(ref, Container) else self.get(ref)
        self.reconcile(container)
        with container.update() as st:
            if not st.running:
                return
            st.stop_requested = True
            pid = st.pid if st.status == Status.RUNNING else 0
            self._thaw(container, st)
        if pid:
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                pidfd = -1
            if pidfd >= 0:
                try:
                    signal.pidfd_send_signal(pidfd, signal.SIGTERM)
                    if not select.select([pidfd], [], [], timeout)[0]:
                        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                finally:
                    os.close(pidfd)
        self._wait_stopped(container)

    def _wait_stopped(self, container: Container, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.reconcile(container).running:
            if time.monotonic() > deadline:
                raise TimeoutError(f"container {container.id[:12]} did not stop")
            time.sleep(0.005)

    def restart(self, ref: str | Container, timeout: float = 10.0) -> None:
        container = ref if isinstance(ref, Container) else self.get(ref)
        self.stop(container, timeout)
        self.start(container)

    # Remove -----------------------------------------------------------------

    def remove(self, ref: str | Container, force: bool = False) -> None:
        container = ref if isinstance(ref, Container) else self.get(ref)
        state = self.reconcile(container)
        if state.running:
            if not force:
                raise Conflict(
                    f"You cannot remove a running container {container.id}. "
                    "Stop the container before attempting removal or force remove"
                )
            with container.update() as st:
                st.stop_requested = True
                pid = st.pid
                self._thaw(container, st)
            if pid:
                _signal(pid, signal.SIGKILL)
            self._wait_stopped(container)
        mark("remove")
        with container.locked() as st:
            # Checked, not written: the directory is renamed away before the lock is let go.
            container.transition(st, Status.REMOVING)
            self._release(container)
        mark("remove: done")

    def _release(self, container: Container, wait: bool = False) -> None:
        """Undo everything create and start made: cgroups, addresses, rules, anonymous volumes;
        the directory's files go in the background unless ``wait``."""
        spec = container.spec
        _close(self._done.pop(spec.id, -1))
        # destroy() kills whatever keeps a directory busy; an exited container leaves nothing.
        self.cgroup(spec.id).destroy()
        mark("remove: cgroup destroyed")
        if spec.network == "bridge":
            self.network.unpublish(spec.id)
            self.network.release(spec.id)
            # The kernel deletes the veth with the namespace; this covers a namespace kept alive.
            if os.path.exists(f"/sys/class/net/{veth_name(spec.id)}"):
                os.system(f"ip link del {veth_name(spec.id)} 2>/dev/null")
        self.janitor.put(container.dir, wait=wait)
        self._release_name(spec.name, spec.id)
        mark("remove: directory deleted")
        if spec.private_userns:
            self.id_ranges.release(spec.id)
        if self._images is not None and hasattr(self._images, "release"):
            # A hold file an earlier version made for this container.
            with contextlib.suppress(Exception):
                self._images.release(spec.image_id, spec.id)
        for mount in spec.mounts:
            if mount.type == "volume":
                try:
                    volume = self.volumes.get(mount.source)
                except Exception:  # noqa: BLE001 - already gone
                    continue
                if volume.anonymous and not self.volumes.users(volume.ref):
                    self.volumes.remove(volume.ref)

    # Inspect / logs / stats -----------------------------------------------------------

    def inspect(self, ref: str | Container) -> dict[str, Any]:
        container = ref if isinstance(ref, Container) else self.get(ref)
        st = self.reconcile(container)
        spec = container.spec
        return {
            "Id": spec.id,
            "Name": f"/{spec.name}",
            "Created": spec.created,
            "Path": spec.args[0],
            "Args": spec.args[1:],
            "Image": spec.image_id,
            "State": {
                "Status": "paused" if st.paused else str(st.status),
                "Running": st.status == Status.RUNNING,
                "Paused": st.paused,
                **(
                    {
                        "Health": {
                            "Status": st.health_status,
                            "FailingStreak": st.health_failing_streak,
                            "Log": st.health_log,
                        }
                    }
                    if spec.healthcheck
                    else {}
                ),
                "Restarting": st.status == Status.RESTARTING,
                "OOMKilled": st.oom_killed,
                "Dead": st.status == Status.DEAD,
                "Pid": st.pid,
                "ExitCode": st.exit_code,
                "Error": st.error,
                "StartedAt": st.started_at,
                "FinishedAt": st.finished_at,
            },
            "RestartCount": st.restart_count,
            "LogPath": str(container.log_path),
            "Config": {
                "Hostname": spec.hostname,
                "User": spec.user,
                "Env": spec.env,
                "Cmd": spec.args,
                "Image": spec.image,
                "WorkingDir": spec.workdir,
                "Labels": spec.labels,
                "ExposedPorts": {p: {} for p in spec.exposed_ports},
                "Tty": spec.tty,
                "OpenStdin": spec.open_stdin,
                **(
                    {"Healthcheck": _healthcheck_config(spec.healthcheck)}
                    if spec.healthcheck
                    else {}
                ),
            },
            "HostConfig": {
                "NetworkMode": spec.network,
                "Memory": spec.resources.memory or 0,
                "NanoCpus": int((spec.resources.cpus or 0) * 1e9),
                "CpuShares": spec.resources.cpu_shares or 0,
                "PidsLimit": spec.resources.pids_limit,
                "RestartPolicy": {
                    "Name": spec.restart.name,
                    "MaximumRetryCount": spec.restart.max_retries,
                },
                "AutoRemove": spec.auto_remove,
                "ReadonlyRootfs": spec.read_only,
                "CapAdd": None,
                "Init": spec.init,
                "UsernsMode": spec.userns,
                "ExtraHosts": spec.extra_hosts,
                "Dns": spec.dns,
                "DnsSearch": spec.dns_search,
                "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in spec.ulimits],
            },
            "Mounts": [
                {
                    "Type": m.type,
                    "Name": m.source if m.type == "volume" else "",
                    "Source": (self.volumes.directory(m.source) / "_data").as_posix()
                    if m.type == "volume"
                    else m.source,
                    "Destination": m.target,
                    "Mode": _mount_mode(m, spec.private_userns),
                    "RW": not m.readonly,
                }
                for m in spec.mounts
            ],
            "NetworkSettings": {
                "IPAddress": st.ip_address,
                "Gateway": str(self.network.gateway) if st.ip_address else "",
                "Bridge": self.network.bridge if spec.network == "bridge" else "",
                "Ports": {
                    f"{p.container_port}/{p.protocol}": [
                        {"HostIp": p.host_ip, "HostPort": str(p.host_port)}
                    ]
                    for p in spec.ports
                },
            },
        }

    def logs(
        self, ref: str | Container, follow: bool = False, tail: int | None = None
    ) -> Iterator[LogEntry]:
        container = ref if isinstance(ref, Container) else self.get(ref)
        # Following polls the file, and wakes at once when the shim exits (the last lines are
        # written by then): an attached `run` returns as soon as the container has.
        shim = _pidfd(container.state.shim_pid) if follow else -1
        try:
            f = open(container.log_path, "rb")  # noqa: SIM115 - closed in finally, generator-scoped
        except FileNotFoundError:
            if not follow:
                return
            while not container.log_path.exists():
                if not self.reconcile(container).running:
                    if shim >= 0:
                        os.close(shim)
                    return
                _nap(shim, 0.02)
            f = open(container.log_path, "rb")  # noqa: SIM115
        try:
            if tail is not None:
                lines = f.readlines()
                for line in lines[len(lines) - tail if tail < len(lines) else 0 :]:
                    yield _parse(line)
            buffer = b""
            while True:
                chunk = f.readline()
                if chunk:
                    buffer += chunk
                    if buffer.endswith(b"\n"):
                        yield _parse(buffer)
                        buffer = b""
                    continue
                if not follow:
                    return
                try:
                    running = self.reconcile(container).running
                except NoSuchContainer:
                    running = False
                if not running:
                    # The shim writes the last lines before it records the exit.
                    for line in f.readlines():
                        yield _parse(buffer + line)
                        buffer = b""
                    return
                _nap(shim, 0.02)
        finally:
            f.close()
            if shim >= 0:
                os.close(shim)

    def stats(self, ref: str | Container) -> dict[str, Any]:
        container = ref if isinstance(ref, Container) else self.get(ref)
        sample = self.cgroup(container.id).stats()
        return {
            "id": container.id,
            "name": container.spec.name,
            "memory_usage": sample.memory_usage,
            "memory_limit": sample.memory_limit,
            "cpu_usage_ns": sample.cpu_usage_ns,
            "pids": sample.pids,
            "read_at": time.time(),
        }

    # Exec -----------------------------------------------------------------

    def exec(
        self,
        ref: str | Container,
        argv: Sequence[str],
        *,
        env: Sequence[str] = (),
        user: str | None = None,
        workdir: str | None = None,
        capture: bool = True,
        stdin: bool = False,
        tty: bool = False,
    ) -> ExecResult:
        """Run a process inside a running container; without ``capture`` it uses our stdio, our
        stdin too with ``stdin``; with ``tty`` (and without ``capture``) a terminal made in the
        container, relayed to ours."""
        if tty and capture:
            raise InvalidSpec("a terminal is relayed to the caller's own: exec with capture=False")
        container = ref if isinstance(ref, Container) else self.get(ref)
        state = self.reconcile(container)
        if state.status != Status.RUNNING or not state.pid:
            raise Conflict(f"Container {container.id} is not running")
        if state.paused:
            raise Conflict(f"Container {container.id} is paused, unpause the container before exec")
        spec = container.spec
        procs = self.cgroup(spec.id).procs_files()
        names = USERNS_NAMESPACES if spec.private_userns else NAMESPACES
        ns_fds = [os.open(f"/proc/{state.pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in names]
        out_r, out_w = os.pipe() if capture else (-1, 1)
        err_r, err_w = os.pipe() if capture else (-1, 2)
        fail_r, fail_w = os.pipe()
        terminal_r = terminal_w = -1
        if tty:
            import socket

            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            terminal_r, terminal_w = ours.detach(), theirs.detach()
        # libseccomp is not reachable once inside the container.
        bpf = seccomp.default_filter(spec.capabilities, self.state_dir / "seccomp")
        try:
            pid = os.fork()
            if pid == 0:
                code = 126
                try:
                    if terminal_r >= 0:
                        os.close(terminal_r)
                    exec_child(
                        spec, ns_fds, procs, argv, env, user, workdir, out_w, err_w, fail_w, bpf,
                        stdin=stdin, terminal_fd=terminal_w,
                    )  # fmt: skip
                except BaseException as e:  # noqa: BLE001 - reported through the pipe
                    code = getattr(e, "exit_code", 126)
                    os.write(fail_w, (getattr(e, "message", None) or str(e)).encode())
                finally:
                    os._exit(code)
        finally:
            for fd in ns_fds:
                os.close(fd)
            os.close(fail_w)
            if terminal_w >= 0:
                os.close(terminal_w)
            if capture:
                os.close(out_w)
                os.close(err_w)
        if terminal_r >= 0:
            from runtime_agent.container import attach
            from runtime_agent.container.shim import receive_console

            terminal = receive_console(terminal_r)  # -1 when the exec failed first
            if terminal >= 0:
                try:
                    attach.relay_terminal(terminal, stdin_fd=0 if stdin else None)
                finally:
                    os.close(terminal)
        outputs = _drain([out_r, err_r]) if capture else {}
        failure = b"".join(iter(lambda: os.read(fail_r, 65536), b""))
        os.close(fail_r)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if failure:
            raise StartFailed(f"OCI runtime exec failed: {failure.decode(errors='replace')}", code)
        return ExecResult(
            128 - code if code < 0 else code, outputs.get(out_r, b""), outputs.get(err_r, b"")
        )

    # Agent restart -----------------------------------------------------------------

    def recover(self) -> list[Container]:
        """On agent start: record exits whose shim died and restart what the policy restarts."""
        restarted = []
        for container in self.list(all=True):
            state = container.state
            policy = container.spec.restart.name
            if (
                state.status == Status.EXITED
                and state.error.startswith("container supervisor")
                and (
                    policy == "always" or (policy == "unless-stopped" and not state.stop_requested)
                )
            ):
                self.start(container)
                restarted.append(container)
        return restarted


def release_container(
    state_dir: Path,
    bridge: str,
    subnet: str,
    cgroup_root: str,
    cgroup_mount: Path,
    container_id: str,
) -> None:
    """What a shim calls for ``--rm``: a picklable stand-in for ``Runtime._release``."""
    runtime = Runtime(
        state_dir,
        bridge=bridge,
        subnet=subnet,
        cgroup_root=cgroup_root,
        cgroup_mount=cgroup_mount,
        zygote=False,
    )
    with contextlib.suppress(ImportError):
        runtime.images  # noqa: B018 - loads the store so the image hold is released too
    # The shim exits right after: no background thread would live to finish the deletion.
    runtime._release(Container(runtime.containers_dir / container_id), wait=True)


def _allowed(state: State) -> frozenset[Status]:
    from runtime_agent.container.state import TRANSITIONS

    return TRANSITIONS[state.status]


def _signal(pid: int, sig: int) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)


def _close(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


def _pidfd(pid: int) -> int:
    """A pidfd for ``pid``, or -1 when there is no such process."""
    if pid <= 0:
        return -1
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return -1


def _nap(pidfd: int, seconds: float) -> None:
    """Sleep ``seconds``, or less if the process behind ``pidfd`` exits meanwhile."""
    if pidfd < 0:
        time.sleep(seconds)
    else:
        select.select([pidfd], [], [], seconds)


def _parse(line: bytes) -> LogEntry:
    entry = json.loads(line)
    return LogEntry(entry["time"], entry["stream"], entry["log"].encode("utf-8", "surrogateescape"))


def _drain(fds: list[int]) -> dict[int, bytes]:
    data = {fd: b"" for fd in fds}
    open_fds = list(fds)
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [])
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                data[fd] += chunk
            else:
                open_fds.remove(fd)
                os.close(fd)
    return data


def _mount_mode(mount: MountSpec, private_userns: bool) -> str:
    """Docker's ``Mode`` of an inspected mount: its options, idmapping as it is in effect."""
    options = ["ro"] if mount.readonly else []
    if private_userns and (mount.idmap or mount.type == "volume"):
        options.append("idmap")
    return ",".join(options)


@dataclass
class CopyPlan:
    lower_dirs: list[str]
    upper: str
    work: str


@dataclass
class ProcessInfo:
    pid: int
    ppid: int
    user: str
    started: str  # HH:MM today, else the date, as ps shows STIME
    cpu_time: str  # [DD-]HH:MM:SS of user and system time
    command: str


def _process_info(pid: int) -> ProcessInfo:
    import pwd

    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after the name, which may hold spaces
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) // ticks
    boot = time.time() - float(Path("/proc/uptime").read_text().split()[0])
    started = datetime.fromtimestamp(boot + int(fields[19]) / ticks)
    uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:\t", 1)[1].split()[0])
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    command = (
        b" ".join(argv).decode(errors="replace")
        or "[" + stat.split("(", 1)[1].rsplit(")", 1)[0] + "]"
    )
    days, rest = divmod(cpu, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return ProcessInfo(
        pid=pid,
        ppid=int(fields[1]),
        user=user,
        started=started.strftime("%H:%M" if started.date() == datetime.now().date() else "%b%d"),
        cpu_time=f"{days}-{clock}" if days else clock,
        command=command,
    )


def _healthcheck_config(check: HealthCheck) -> dict[str, Any]:
    """As an image config states it: durations in nanoseconds."""
    return {
        "Test": check.test,
        "Interval": int(check.interval * 1e9),
        "Timeout": int(check.timeout * 1e9),
        "Retries": check.retries,
        "StartPeriod": int(check.start_period * 1e9),
    }
