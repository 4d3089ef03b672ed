"""Resolves paths inside a root filesystem without ever leaving it, whatever its symlinks say."""

from __future__ import annotations

import errno
import os

_MAX_LINKS = 255


def secure_join(root: str, unsafe: str) -> str:
    """``root/unsafe`` with every symlink resolved as if ``root`` were ``/``.

    ``..`` stops at the root and absolute link targets restart from the root, so an image
    cannot turn a mount target such as ``/etc/hosts`` into a path on the host.
    """
    root = os.path.abspath(root)
    pending = [p for p in unsafe.split("/") if p]
    pending.reverse()
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            target = os.readlink(candidate)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
                raise
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_LINKS:
            raise OSError(errno.ELOOP, "too many levels of symbolic links", unsafe)
        if target.startswith("/"):
            resolved = []
        pending.extend(reversed([p for p in target.split("/") if p]))
    return os.path.join(root, *resolved)


def ensure_dir(root: str, unsafe: str) -> str:
    """Create ``unsafe`` as a directory inside ``root``.

    Every existing component is resolved by :func:`secure_join`, so what is left to create
    contains no symlink; nothing can run in the root yet to race us.
    """
    path = secure_join(root, unsafe)
    os.makedirs(path, 0o755, exist_ok=True)
    return path


def ensure_file(root: str, unsafe: str) -> str:
    parent, _, name = unsafe.rstrip("/").rpartition("/")
    ensure_dir(root, parent)
    path = secure_join(root, unsafe)
    if not os.path.lexists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
    elif os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a directory", unsafe)
    return path
