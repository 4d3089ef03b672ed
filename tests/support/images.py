"""Builds OCI image layouts at test time from busybox-static: plain, multi-layer, multi-platform, hostile."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform as _platform
import shutil
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

BUSYBOX = Path("/bin/busybox")
# Fixed so that the same content always gives the same digests: base layers are shared.
MTIME = 1_700_000_000
_APPLET_NAMES = (
    "sh ash ls cat echo sleep httpd true false id ps env hostname mkdir rm rmdir touch wc "
    "head tail grep kill cp mv ln chmod chown date dd nc wget seq yes stat test [ uname df "
    "free pwd readlink find sed awk tr tee mount umount sort uniq cut xargs printf md5sum "
    "sha256sum vi top whoami nproc ip ifconfig ping su dmesg sync which basename dirname "
    "realpath mknod mkfifo timeout usleep nslookup hexdump"
)
APPLETS = tuple(_APPLET_NAMES.split())
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Compression = Literal["gzip", "zstd", "none"]
_GOARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}


def host_platform() -> str:
    machine = _platform.machine()
    return f"linux/{_GOARCH.get(machine, machine)}"


# -- layer entries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    path: str
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Dir:
    path: str
    mode: int = 0o755


@dataclass(frozen=True)
class Symlink:
    path: str
    target: str


@dataclass(frozen=True)
class Hardlink:
    path: str
    target: str


@dataclass(frozen=True)
class Whiteout:
    """Deletes `path` from the layers below (written as `.wh.NAME`)."""

    path: str


@dataclass(frozen=True)
class Opaque:
    """Hides everything below in directory `path` (written as `.wh..wh..opq`)."""

    path: str


@dataclass(frozen=True)
class Device:
    path: str
    major: int
    minor: int
    block: bool = False


Entry = File | Dir | Symlink | Hardlink | Whiteout | Opaque | Device


def _info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, MTIME
    info.uname = info.gname = "root"
    return info


def layer_tar(entries: Sequence[Entry]) -> bytes:
    """An uncompressed layer tar, byte-for-byte reproducible; names are written verbatim."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            match entry:
                case File():
                    info = _info(entry.path, tarfile.REGTYPE, entry.mode)
                    info.size, info.uid, info.gid = len(entry.data), entry.uid, entry.gid
                    tar.addfile(info, io.BytesIO(entry.data))
                case Dir():
                    tar.addfile(_info(entry.path, tarfile.DIRTYPE, entry.mode))
                case Symlink():
                    info = _info(entry.path, tarfile.SYMTYPE, 0o777)
                    info.linkname = entry.target
                    tar.addfile(info)
                case Hardlink():
                    info = _info(entry.path, tarfile.LNKTYPE, 0o644)
                    info.linkname = entry.target
                    tar.addfile(info)
                case Whiteout():
                    parent, _, name = entry.path.rpartition("/")
                    tar.addfile(
                        _info(
                            f"{parent}/.wh.{name}" if parent else f".wh.{name}",
                            tarfile.REGTYPE,
                            0o644,
                        )
                    )
                case Opaque():
                    tar.addfile(
                        _info(f"{entry.path.rstrip('/')}/.wh..wh..opq", tarfile.REGTYPE, 0o644)
                    )
                case Device():
                    info = _info(
                        entry.path, tarfile.BLKTYPE if entry.block else tarfile.CHRTYPE, 0o600
                    )
                    info.devmajor, info.devminor = entry.major, entry.minor
                    tar.addfile(info)
    return out.getvalue()


def compress(data: bytes, compression: Compression) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=3).compress(data)
    return data


def busybox_rootfs() -> list[Entry]:
    if not BUSYBOX.exists():
        raise FileNotFoundError(f"{BUSYBOX} is missing: apt-get install -y busybox-static")
    entries: list[Entry] = [
        Dir(d)
        for d in ("bin", "etc", "dev", "proc", "sys", "var", "var/www", "home", "usr", "usr/bin")
    ]
    entries += [Dir("root", 0o700), Dir("tmp", 0o1777)]
    entries.append(File("bin/busybox", BUSYBOX.read_bytes(), 0o755))
    entries += [Symlink(f"bin/{applet}", "busybox") for applet in APPLETS]
    entries += [File("etc/passwd", PASSWD), File("etc/group", GROUP)]
    return entries


# -- layouts ---------------------------------------------------------------------------------


@dataclass
class ImageSpec:
    """One image: its layers (lowest first), platform and `config` section overrides."""

    layers: list[list[Entry]]
    platform: str = field(default_factory=host_platform)
    config: dict[str, Any] = field(default_factory=dict)


class LayoutWriter:
    """Writes blobs and index.json of an OCI image layout."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        (dest / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (dest / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        self.entries: list[dict[str, Any]] = []

    def blob(self, data: bytes, media_type: str, **extra: Any) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        (self.dest / "blobs" / "sha256" / digest[7:]).write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data), **extra}

    def image(self, spec: ImageSpec, compression: Compression) -> dict[str, Any]:
        layers, diff_ids = [], []
        for entries in spec.layers:
            tar = layer_tar(entries)
            diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
            layers.append(self.blob(compress(tar, compression), LAYER_MEDIA_TYPES[compression]))
        os_name, arch, *variant = spec.platform.split("/")
        config = {
            "created": "2024-01-01T00:00:00Z",
            "architecture": arch,
            "os": os_name,
            "config": {"Env": [PATH_ENV], "Cmd": ["sh"], "WorkingDir": "/", **spec.config},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [
                {"created": "2024-01-01T00:00:00Z", "created_by": "tests/support/images.py"}
            ]
            * len(layers),
        }
        if variant:
            config["variant"] = variant[0]
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": self.blob(json.dumps(config, sort_keys=True).encode(), OCI_CONFIG),
            "layers": layers,
        }
        platform = {
            "os": os_name,
            "architecture": arch,
            **({"variant": variant[0]} if variant else {}),
        }
        return self.blob(
            json.dumps(manifest, sort_keys=True).encode(), OCI_MANIFEST, platform=platform
        )

    def add(
        self, tag: str | None, specs: Sequence[ImageSpec], compression: Compression
    ) -> dict[str, Any]:
        manifests = [self.image(spec, compression) for spec in specs]
        if len(manifests) == 1:
            top = {k: v for k, v in manifests[0].items() if k != "platform"}
        else:
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
            top = self.blob(json.dumps(index, sort_keys=True).encode(), OCI_INDEX)
        if tag is not None:
            top["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.entries.append(top)
        return top

    def close(self) -> Path:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.entries}
        (self.dest / "index.json").write_text(json.dumps(index, sort_keys=True))
        return self.dest


def write_layout(
    dest: Path, images: dict[str | None, Sequence[ImageSpec]], compression: Compression = "gzip"
) -> Path:
    """A layout with one entry per tag; several specs under one tag become a platform index."""
    if dest.exists():
        shutil.rmtree(dest)
    writer = LayoutWriter(dest)
    for tag, specs in images.items():
        writer.add(tag, specs, compression)
    return writer.close()


def build_busybox_layout(
    dest: Path,
    *,
    tag: str | None = "latest",
    extra_layers: Sequence[Sequence[Entry]] = (),
    compression: Compression = "gzip",
    platforms: Sequence[str] | None = None,
    config: dict[str, Any] | None = None,
) -> Path:
    """A busybox image (plus `extra_layers` on top); several platforms give an index."""
    layers = [busybox_rootfs(), *[list(layer) for layer in extra_layers]]
    specs = [
        ImageSpec(layers, platform, {**(config or {}), "Labels": {"berth.test.platform": platform}})
        for platform in (platforms or [host_platform()])
    ]
    return write_layout(dest, {tag: specs}, compression)


# An upper layer deletes a file of each lower layer, makes a directory opaque and adds files.
MIDDLE_LAYER: list[Entry] = [
    File("etc/motd", b"welcome to berth\n"),
    Dir("opt"),
    Dir("opt/data"),
    File("opt/data/old-1", b"old 1\n"),
    File("opt/data/old-2", b"old 2\n"),
]
TOP_LAYER: list[Entry] = [
    Whiteout("etc/motd"),
    Whiteout("bin/vi"),
    Opaque("opt/data"),
    File("opt/data/new", b"new\n"),
    File("etc/added", b"added by the top layer\n"),
]


def build_multilayer_layout(dest: Path, **options: Any) -> Path:
    """busybox + MIDDLE_LAYER + TOP_LAYER: etc/motd, bin/vi and opt/data/old-* end up hidden."""
    return build_busybox_layout(dest, extra_layers=[MIDDLE_LAYER, TOP_LAYER], **options)


# -- hostile layers --------------------------------------------------------------------------

# Names that would land in `outside` if an unpacker followed them; `refused` ones must fail.
HOSTILE_KINDS = {
    "dotdot": "refused",
    "absolute": "neutralised",
    "symlink_escape": "neutralised",
    "relative_symlink_escape": "neutralised",
    "hardlink_escape": "refused",
    "hardlink_through_symlink": "refused",
    "file_over_symlink": "neutralised",
    "symlink_loop": "refused",
    "device": "refused",
}


def hostile_layer(kind: str, outside: Path) -> list[Entry]:
    """A layer that tries to write into (or link to) the absolute directory `outside`."""
    climb = "../" * 32 + str(outside).lstrip("/")
    match kind:
        case "dotdot":
            return [File(f"{climb}/dotdot", b"escaped\n")]
        case "absolute":
            return [File(f"{outside}/absolute", b"escaped\n")]
        case "symlink_escape":
            return [Symlink("escape", str(outside)), File("escape/through-symlink", b"escaped\n")]
        case "relative_symlink_escape":
            return [Symlink("escape", climb), File("escape/through-relative-symlink", b"escaped\n")]
        case "hardlink_escape":
            return [Hardlink("stolen", f"{outside}/victim"), File("stolen", b"overwritten\n")]
        case "hardlink_through_symlink":
            return [
                Symlink("escape", str(outside)),
                Hardlink("stolen", "escape/victim"),
                File("stolen", b"overwritten\n"),
            ]
        case "file_over_symlink":
            return [Symlink("victim", f"{outside}/victim"), File("victim", b"overwritten\n")]
        case "symlink_loop":
            return [Symlink("a", "b"), Symlink("b", "a"), File("a/looped", b"escaped\n")]
        case "device":
            return [Device("dev/sda", 8, 0, block=True)]
    raise ValueError(f"unknown hostile layer kind {kind!r}")


def build_hostile_layout(
    dest: Path, kind: str, outside: Path, *, compression: Compression = "gzip"
) -> Path:
    """A one-layer image whose layer is `hostile_layer(kind, outside)`."""
    return write_layout(dest, {"latest": [ImageSpec([hostile_layer(kind, outside)])]}, compression)
