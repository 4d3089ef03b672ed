"""Copying files out of and into a container (``cp``), as tar streams.

The files are read and written by a helper process whose root is the container's: it joins a
running container's mount namespace, or mounts a stopped one's root filesystem in a namespace
of its own. Every path and symlink then resolves inside the container, however the container
arranges its files, even while it changes them; the host side extracts with tarfile's checks.
"""

from __future__ import annotations

import contextlib
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from runtime_agent.errors import NotFound, RuntimeAgentError
from runtime_agent.kernel import linux

if TYPE_CHECKING:
    from runtime_agent.container.state import Container
    from runtime_agent.runtime.api import Runtime

CHUNK = 1 << 16


def archive(runtime: Runtime, container: Container, path: str) -> Iterator[bytes]:
    """A tar stream of ``path`` in the container (a directory with all it holds), its top entry
    named after the path's last part; ownership as in the container."""
    offset = _id_offset(runtime, container)

    def write_tar(output: IO[bytes]) -> None:
        source = os.path.normpath("/" + path)
        if not os.path.lexists(source):
            raise NotFound(f"Could not find the file {path} in container {container.spec.name}")

        def own_ids(member: tarfile.TarInfo) -> tarfile.TarInfo:
            member.uid, member.gid = max(0, member.uid - offset), max(0, member.gid - offset)
            member.uname = member.gname = ""
            return member

        with tarfile.open(fileobj=output, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(source, arcname=os.path.basename(source) or ".", filter=own_ids)

    read_fd, done = _inside(runtime, container, write_tar, reading=True)
    try:
        while chunk := os.read(read_fd, CHUNK):
            yield chunk
    finally:
        os.close(read_fd)
        done()


def extract(
    runtime: Runtime, container: Container, directory: str, chunks: Iterable[bytes]
) -> None:
    """Unpack a tar stream into ``directory`` of the container, every file its root's (as
    Docker's cp makes them)."""
    offset = _id_offset(runtime, container)

    def read_tar(source: IO[bytes]) -> None:
        target = os.path.normpath("/" + directory)
        if not os.path.isdir(target):
            raise NotFound(
                f"Could not find the file {directory} in container {container.spec.name}"
            )

        def as_root(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
            checked = tarfile.tar_filter(member, dest)  # no absolute names, no way out of dest
            return checked.replace(uid=offset, gid=offset, uname="", gname="", deep=False)

        with tarfile.open(fileobj=source, mode="r|") as tar:
            tar.extractall(target, filter=as_root, numeric_owner=True)

    write_fd, done = _inside(runtime, container, read_tar, reading=False)
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(write_fd, view) :]
    except BrokenPipeError:
        pass  # the helper stopped reading: its error is reported below
    finally:
        os.close(write_fd)
        done()


def kind_of(runtime: Runtime, container: Container, path: str) -> str:
    """What ``path`` is in the container: "directory", "file" (anything else that exists) or ""."""

    def answer(output: IO[bytes]) -> None:
        target = os.path.normpath("/" + path)
        kind = "directory" if os.path.isdir(target) else "file" if os.path.lexists(target) else ""
        output.write(kind.encode())

    read_fd, done = _inside(runtime, container, answer, reading=True)
    try:
        return b"".join(iter(lambda: os.read(read_fd, CHUNK), b"")).decode()
    finally:
        os.close(read_fd)
        done()


def _id_offset(runtime: Runtime, container: Container) -> int:
    """Host ids are container ids plus this: the start of its range with a user namespace."""
    if not container.spec.private_userns:
        return 0
    return {owner: start for start, owner in runtime.id_ranges.allocations().items()}[container.id]


def _inside(
    runtime: Runtime, container: Container, work: Callable[[IO[bytes]], None], reading: bool
) -> tuple[int, Callable[[], None]]:
    """Fork a helper rooted in the container that runs ``work`` on one end of a pipe; returns
    our end and a function that waits for the helper and raises what it failed with."""
    state = runtime.reconcile(container)
    pid = state.pid if state.running and state.pid else 0
    data_r, data_w = os.pipe()
    error_r, error_w = os.pipe()
    scratch = "" if pid else tempfile.mkdtemp(prefix="copy.", dir=runtime.state_dir)
    mount_ns = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC) if pid else -1
    plan = None if pid else runtime.plan_for_copy(container)
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.close(error_r)
            ours = data_w if reading else data_r
            os.close(data_r if reading else data_w)
            if mount_ns >= 0:
                os.setns(mount_ns, linux.CLONE_NEWNS)  # our root becomes the container's
            else:
                assert plan is not None
                os.unshare(linux.CLONE_NEWNS)
                linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
                linux.mount_overlay(plan.lower_dirs, plan.upper, plan.work, scratch)
                os.chroot(scratch)
            os.chdir("/")
            with os.fdopen(ours, "wb" if reading else "rb") as stream:
                work(stream)
            code = 0
        except BaseException as e:  # noqa: BLE001 - reported through the error pipe
            message = getattr(e, "message", None) or str(e)
            os.write(error_w, f"{type(e).__name__}:{message}".encode())
        finally:
            os._exit(code)
    os.close(error_w)
    if mount_ns >= 0:
        os.close(mount_ns)
    ours = data_r if reading else data_w
    os.close(data_w if reading else data_r)

    def done() -> None:
        failure = b"".join(iter(lambda: os.read(error_r, CHUNK), b""))
        os.close(error_r)
        os.waitpid(child, 0)
        if scratch:
            with contextlib.suppress(OSError):
                os.rmdir(scratch)
        if failure:
            kind, _, message = failure.decode(errors="replace").partition(":")
            raise (NotFound if kind == "NotFound" else RuntimeAgentError)(message)

    return ours, done


class _ChunkReader:
    """A readable file over an iterable of chunks, for tarfile's stream mode."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks, self.buffer = iter(chunks), b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, b"")
            if not chunk:
                break
            self.buffer += chunk
        if size < 0:
            size = len(self.buffer)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def unpack_on_host(chunks: Iterable[bytes], directory: Path, rename_to: str | None = None) -> None:
    """Extract a stream from :func:`archive` into ``directory``, owned by us, its top entry
    renamed to ``rename_to``; tarfile's checks keep every file inside ``directory``."""
    uid, gid = os.getuid(), os.getgid()

    def ours(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        if rename_to is not None:
            _, _, rest = member.name.partition("/")
            member = member.replace(name=rename_to + ("/" + rest if rest else ""), deep=False)
        checked = tarfile.tar_filter(member, dest)
        return checked.replace(uid=uid, gid=gid, uname="", gname="", deep=False)

    with tarfile.open(fileobj=_ChunkReader(chunks), mode="r|") as tar:  # type: ignore[arg-type]
        tar.extractall(directory, filter=ours, numeric_owner=True)


def tar_of(path: Path, arcname: str) -> Iterator[bytes]:
    """A tar stream of a host path (a directory with all it holds), its top entry ``arcname``."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            with (
                os.fdopen(write_fd, "wb") as output,
                tarfile.open(fileobj=output, mode="w|", format=tarfile.PAX_FORMAT) as tar,
            ):
                tar.add(path, arcname=arcname)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    try:
        while chunk := os.read(read_fd, CHUNK):
            yield chunk
    finally:
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeAgentError(f"could not read {path}")
