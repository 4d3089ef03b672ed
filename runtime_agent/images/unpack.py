"""Unpacks one layer tar (gzip, zstd or plain) from a byte stream, safely, into a directory."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tarfile
import zlib
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard

from .errors import ImageError, UnsafeLayer

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
# xattrs a layer may carry; trusted.overlay.* from a tar could forge whiteouts or redirects.
_ALLOWED_XATTR_PREFIXES = ("user.", "security.capability")
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Bounds what one decompress call may produce, so a compression bomb cannot fill memory.
_OUTPUT_STEP = 1 << 20
_COPY_STEP = 1 << 20
_MAX_SYMLINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class UnpackResult:
    compressed_digest: str
    compressed_size: int
    diff_id: str
    size: int


class _Decompressor:
    """Turns compressed chunks into tar bytes; the format is sniffed from the first bytes."""

    def __init__(self, head: bytes) -> None:
        if head.startswith(_GZIP_MAGIC):
            self.kind = "gzip"
            self._gzip = zlib.decompressobj(wbits=31)
        elif head.startswith(_ZSTD_MAGIC):
            self.kind = "zstd"
            self._zstd = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
        else:
            self.kind = "tar"
        self._tail = b""

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.kind == "tar":
            yield data
        elif self.kind == "zstd":
            yield self._zstd.decompress(data)
        else:
            yield from self._inflate(self._tail + data if self._tail else data)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        self._tail = b""
        while data:
            if self._gzip.eof:
                # A gzip stream may be several members back to back (pigz, appended layers).
                rest = self._gzip.unused_data + data
                if not rest.strip(b"\0"):
                    return
                if len(rest) < 2:
                    self._tail = rest
                    return
                if not rest.startswith(_GZIP_MAGIC):
                    raise ImageError("layer has trailing data after its gzip stream")
                self._gzip = zlib.decompressobj(wbits=31)
                data = rest
            try:
                out = self._gzip.decompress(data, _OUTPUT_STEP)
            except zlib.error as exc:
                raise ImageError(f"layer is not valid gzip: {exc}") from None
            yield out
            data = self._gzip.unconsumed_tail

    def finish(self) -> None:
        if self.kind == "gzip" and not self._gzip.eof:
            raise ImageError("layer's gzip stream is truncated")


class LayerReader:
    """A file-like `read()` over a layer's tar bytes that hashes compressed and plain bytes."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._decompressor: _Decompressor | None = None
        self._out: deque[bytes] = deque()
        self._buffered = 0
        self._eof = False
        self.compressed = hashlib.sha256()
        self.compressed_size = 0
        self.plain = hashlib.sha256()
        self.plain_size = 0

    def _fill(self) -> None:
        chunk = next(self._chunks, None)
        if chunk is None:
            self._eof = True
            if self._decompressor is not None:
                self._decompressor.finish()
            return
        if not chunk:
            return
        self.compressed.update(chunk)
        self.compressed_size += len(chunk)
        if self._decompressor is None:
            self._decompressor = _Decompressor(chunk)
        for out in self._decompressor.feed(chunk):
            if out:
                self.plain.update(out)
                self.plain_size += len(out)
                self._out.append(out)
                self._buffered += len(out)

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            while not self._eof:
                self._fill()
            size = self._buffered
        while self._buffered < size and not self._eof:
            self._fill()
        pieces: list[bytes] = []
        want = min(size, self._buffered)
        while want:
            head = self._out[0]
            if len(head) <= want:
                pieces.append(self._out.popleft())
                want -= len(head)
                self._buffered -= len(head)
            else:
                pieces.append(head[:want])
                self._out[0] = head[want:]
                self._buffered -= want
                want = 0
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def drain(self) -> None:
        """Consume the rest so the digests cover every byte, including tar padding."""
        while not self._eof:
            self._fill()
            self._out.clear()
            self._buffered = 0


class _Tree:
    """Creates entries under a root directory, resolving every path inside that root.

    Paths are walked one component at a time with O_NOFOLLOW directory fds; a symlink met
    on the way is resolved as if the root were `/` (absolute targets restart at the root,
    `..` stops at it), so nothing a layer contains can lead a write outside the root.
    """

    def __init__(self, root: Path) -> None:
        self.root_fd = os.open(root, _DIR_FLAGS)
        self._cache: OrderedDict[tuple[str, ...], int] = OrderedDict()
        self.dir_times: list[tuple[tuple[str, ...], int]] = []

    def close(self) -> None:
        self._forget()
        os.close(self.root_fd)

    def _forget(self) -> None:
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()

    def open_dir(self, parts: tuple[str, ...], *, create: bool) -> tuple[int, tuple[str, ...]]:
        """A borrowed fd of the directory at `parts` (resolved in the root) and its real path."""
        cached = self._cache.get(parts)
        if cached is not None:
            self._cache.move_to_end(parts)
            return cached, parts
        fds = [os.dup(self.root_fd)]
        resolved: list[str] = []
        pending = list(reversed(parts))
        links = 0
        try:
            while pending:
                name = pending.pop()
                if name in ("", "."):
                    continue
                if name == "..":
                    if resolved:
                        resolved.pop()
                        os.close(fds.pop())
                    continue
                try:
                    fd = os.open(name, _DIR_FLAGS, dir_fd=fds[-1])
                except FileNotFoundError:
                    if not create:
                        raise UnsafeLayer(
                            f"{'/'.join(parts)}: no such directory in the layer"
                        ) from None
                    os.mkdir(name, 0o755, dir_fd=fds[-1])
                    fd = os.open(name, _DIR_FLAGS, dir_fd=fds[-1])
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    st = os.stat(name, dir_fd=fds[-1], follow_symlinks=False)
                    if not stat.S_ISLNK(st.st_mode):
                        raise UnsafeLayer(f"{'/'.join(parts)}: {name} is not a directory") from None
                    links += 1
                    if links > _MAX_SYMLINKS:
                        raise UnsafeLayer(
                            f"{'/'.join(parts)}: too many levels of symlinks"
                        ) from None
                    target = os.readlink(name, dir_fd=fds[-1])
                    if target.startswith("/"):
                        while len(fds) > 1:
                            os.close(fds.pop())
                        resolved.clear()
                    pending.extend(reversed(target.split("/")))
                    continue
                fds.append(fd)
                resolved.append(name)
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        result = fds.pop()
        for fd in fds:
            os.close(fd)
        key = tuple(resolved)
        if key in self._cache:
            os.close(result)
            self._cache.move_to_end(key)
            return self._cache[key], key
        # Callers hold at most two borrowed fds, both recently used: evicting the oldest is safe.
        if len(self._cache) >= 64:
            os.close(self._cache.popitem(last=False)[1])
        self._cache[key] = result
        return result, key

    def clear(self, dir_fd: int, path: tuple[str, ...], *, keep_dir: bool = False) -> bool:
        """Remove the entry `path` (in `dir_fd`) before replacing it; True if a kept dir is there."""
        name = path[-1]
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            # Cached fds inside the removed tree would keep writing into a deleted directory.
            for key in [k for k in self._cache if k[: len(path)] == path]:
                os.close(self._cache.pop(key))
            shutil.rmtree(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)
        return False


def _member_parts(name: str) -> tuple[str, ...]:
    """Split a member name; absolute names are taken relative to the layer, `..` is refused."""
    if "\0" in name:
        raise UnsafeLayer(f"member name {name!r} contains a NUL byte")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeLayer(f"member {name!r} climbs out of the layer with '..'")
    return parts


def _xattrs(member: tarfile.TarInfo) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            attr = key[len("SCHILY.xattr.") :]
            if attr.startswith(_ALLOWED_XATTR_PREFIXES):
                found[attr] = value.encode("utf-8", "surrogateescape")
    return found


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _apply_meta(fd: int, member: tarfile.TarInfo) -> None:
    # chown first: it clears setuid/setgid bits that the chmod must then restore.
    os.fchown(fd, member.uid, member.gid)
    os.fchmod(fd, stat.S_IMODE(member.mode))
    for attr, value in _xattrs(member).items():
        os.setxattr(fd, attr, value)


def _extract(tar: tarfile.TarFile, tree: _Tree) -> int:
    """Write every member into the tree; returns the total size of regular files."""
    total = 0
    for member in tar:
        parts = _member_parts(member.name)
        if not parts:
            continue  # the layer root itself: its mode is ours to choose
        parent_fd, parent = tree.open_dir(parts[:-1], create=True)
        name = parts[-1]
        if name.startswith(WHITEOUT_PREFIX):
            _whiteout(tree, parent_fd, parent, name, member)
            continue
        if member.isdir():
            if tree.clear(parent_fd, (*parent, name), keep_dir=True):
                fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
            else:
                os.mkdir(name, 0o700, dir_fd=parent_fd)
                fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
            try:
                _apply_meta(fd, member)
            finally:
                os.close(fd)
            # Later members change a directory's mtime; it is set once everything is in.
            tree.dir_times.append(((*parent, name), int(member.mtime)))
            continue
        tree.clear(parent_fd, (*parent, name))
        if member.isreg():
            if member.type == tarfile.GNUTYPE_SPARSE or member.sparse is not None:
                raise UnsafeLayer(f"member {member.name!r}: sparse files are not supported")
            fd = os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=parent_fd,
            )
            try:
                source = tar.extractfile(member)
                assert source is not None
                remaining = member.size
                while remaining:
                    data = source.read(min(_COPY_STEP, remaining))
                    if not data:
                        raise ImageError(f"layer ends inside {member.name!r}")
                    _write_all(fd, data)
                    remaining -= len(data)
                _apply_meta(fd, member)
                os.utime(fd, (member.mtime, member.mtime))
            finally:
                os.close(fd)
            total += member.size
        elif member.issym():
            if "\0" in member.linkname:
                raise UnsafeLayer(f"symlink {member.name!r} has a NUL byte in its target")
            os.symlink(member.linkname, name, dir_fd=parent_fd)
            os.chown(name, member.uid, member.gid, dir_fd=parent_fd, follow_symlinks=False)
            os.utime(name, (member.mtime, member.mtime), dir_fd=parent_fd, follow_symlinks=False)
        elif member.islnk():
            _hardlink(tree, parent_fd, name, member)
        elif member.isfifo():
            os.mkfifo(name, stat.S_IMODE(member.mode), dir_fd=parent_fd)
            os.chown(name, member.uid, member.gid, dir_fd=parent_fd, follow_symlinks=False)
        elif member.ischr() and member.devmajor == 0 and member.devminor == 0:
            # Already an overlay-style whiteout (some tools write them as such).
            os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent_fd)
        elif member.ischr() or member.isblk():
            raise UnsafeLayer(
                f"member {member.name!r} is a device node ({member.devmajor}:{member.devminor}); "
                "only whiteouts are allowed"
            )
        else:
            raise UnsafeLayer(f"member {member.name!r} has unsupported tar type {member.type!r}")
    return total


def _whiteout(
    tree: _Tree, parent_fd: int, parent: tuple[str, ...], name: str, member: tarfile.TarInfo
) -> None:
    if name == OPAQUE_MARKER:
        os.setxattr(parent_fd, OPAQUE_XATTR, b"y")
        return
    if name.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
        return  # aufs bookkeeping (.wh..wh.plnk and friends) means nothing to overlayfs
    target = name[len(WHITEOUT_PREFIX) :]
    if target in ("", ".", ".."):
        raise UnsafeLayer(f"whiteout {member.name!r} names nothing")
    tree.clear(parent_fd, (*parent, target))
    os.mknod(target, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent_fd)


def _hardlink(tree: _Tree, parent_fd: int, name: str, member: tarfile.TarInfo) -> None:
    target = _member_parts(member.linkname)
    if not target:
        raise UnsafeLayer(f"hard link {member.name!r} points at the layer root")
    try:
        source_fd, _ = tree.open_dir(target[:-1], create=False)
        st = os.stat(target[-1], dir_fd=source_fd, follow_symlinks=False)
    except (FileNotFoundError, UnsafeLayer):
        raise UnsafeLayer(
            f"hard link {member.name!r} points at {member.linkname!r}, which is not in the layer"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise UnsafeLayer(f"hard link {member.name!r} points at a directory")
    os.link(target[-1], name, src_dir_fd=source_fd, dst_dir_fd=parent_fd, follow_symlinks=False)


def _set_dir_times(tree: _Tree) -> None:
    for parts, mtime in reversed(tree.dir_times):
        try:
            fd, real = tree.open_dir(parts, create=False)
        except (UnsafeLayer, OSError):
            continue
        if real == parts:
            os.utime(fd, (mtime, mtime))


def unpack_layer(chunks: Iterable[bytes], dest: Path) -> UnpackResult:
    """Unpack the layer read from `chunks` into the (new, empty) directory `dest`.

    The caller compares the returned digests with what the manifest and config promised
    and throws `dest` away on any error: a failed unpack leaves a partial tree behind.
    """
    reader = LayerReader(chunks)
    tree = _Tree(dest)
    try:
        try:
            with tarfile.open(fileobj=reader, mode="r|", bufsize=1 << 16) as tar:  # type: ignore[call-overload]
                size = _extract(tar, tree)
        except tarfile.TarError as exc:
            raise ImageError(f"layer is not a valid tar archive: {exc}") from None
        _set_dir_times(tree)
    finally:
        tree.close()
    reader.drain()
    return UnpackResult(
        compressed_digest="sha256:" + reader.compressed.hexdigest(),
        compressed_size=reader.compressed_size,
        diff_id="sha256:" + reader.plain.hexdigest(),
        size=size,
    )
