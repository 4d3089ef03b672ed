"""The content-addressed image store: blobs, unpacked layers shared by images, and image records."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    AmbiguousReference,
    DigestMismatch,
    ImageError,
    ImageInUse,
    ImageNotFound,
    InvalidReference,
    LayerInUse,
)
from .image import ChunkSource, Image, LayerToFetch, ProgressCallback
from .manifest import Descriptor, Platform
from .reference import (
    DEFAULT_TAG,
    HOST_RE,
    REPOSITORY_RE,
    TAG_RE,
    LayoutReference,
    check_digest,
    parse_reference,
    split_local_name,
)

if TYPE_CHECKING:
    # httpx and the unpacker (tarfile, zstandard) cost more to import than a container start:
    # only a pull or an import loads them.
    import httpx

    from .unpack import UnpackResult

_SHORT_ID = re.compile(r"^[0-9a-f]{4,64}$")
# Each layer decompresses on its own thread; past a few, the CPU rather than the network limits.
MAX_PARALLEL_LAYERS = 4

class _LayerVanished(Exception):
    """A layer was garbage-collected between unpacking and recording the image."""


def _hex(digest: str) -> str:
    return check_digest(digest).split(":", 1)[1]


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _verify_layer(result: UnpackResult, descriptor: Descriptor, diff_id: str) -> None:
    if result.compressed_size != descriptor.size or result.compressed_digest != descriptor.digest:
        raise DigestMismatch(
            f"layer {descriptor.digest}: got {result.compressed_size} bytes with digest "
            f"{result.compressed_digest}, expected {descriptor.size} bytes"
        )
    if result.diff_id != diff_id:
        raise DigestMismatch(
            f"layer {descriptor.digest}: uncompressed digest {result.diff_id}, "
            f"but the image config says {diff_id}"
        )


class ImageStore:
    """Images under `<state_dir>/images`: blobs/, layers/<diff-hex>/fs, records/, holds/."""

    def __init__(self, state_dir: Path, *, transport: httpx.BaseTransport | None = None) -> None:
        self.root = Path(state_dir) / "images"
        # Registry clients use it: tests of pure pull logic pass an httpx.MockTransport.
        self.transport = transport
        self.blobs = self.root / "blobs" / "sha256"
        self.layers_dir = self.root / "layers"
        self.records = self.root / "records"
        self.holds = self.root / "holds"
        self.tmp = self.root / "tmp"
        self.partial = self.root / "partial"
        self.locks = self.root / "locks"
        # Callables naming the users of an image (a runtime's containers) beyond hold files.
        self.holder_sources: list[Callable[[str], list[str]]] = []
        for path in (
            self.blobs,
            self.layers_dir,
            self.records,
            self.holds,
            self.tmp,
            self.partial,
            self.locks,
        ):
            path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.tmp, 0o700)

    # -- locking ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self, name: str, *, blocking: bool = True) -> Iterator[bool]:
        """An flock on locks/<name>.lock: it excludes other processes and other threads alike."""
        fd = os.open(self.locks / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def _store_lock(self) -> AbstractContextManager[bool]:
        return self._lock("store")

    # -- blobs -----------------------------------------------------------------------------

    def write_blob(self, digest: str, data: bytes) -> None:
        path = self.blobs / _hex(digest)
        if not path.exists():
            _atomic_write(path, data)

    def read_blob(self, digest: str) -> bytes:
        try:
            return (self.blobs / _hex(digest)).read_bytes()
        except FileNotFoundError:
            raise ImageNotFound(f"blob {digest} is not in the store") from None

    # -- layers ----------------------------------------------------------------------------

    def layer_dir(self, diff_id: str) -> Path:
        return self.layers_dir / _hex(diff_id) / "fs"

    def has_layer(self, diff_id: str) -> bool:
        return (self.layers_dir / _hex(diff_id) / "layer.json").exists()

    def partial_path(self, diff_id: str, descriptor: Descriptor) -> Path:
        return self.partial / f"{_hex(diff_id)}-{descriptor.hex}"

    def ensure_layer(self, diff_id: str, descriptor: Descriptor, open_source: ChunkSource) -> Path:
        """Unpack a layer unless it is there; concurrent callers for one layer unpack it once."""
        key = _hex(diff_id)
        final = self.layers_dir / key
        if self.has_layer(diff_id):
            return final / "fs"
        with self._lock(f"layer-{key}"):
            if self.has_layer(diff_id):
                return final / "fs"
            work = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=self.tmp))
            try:
                fs = work / "fs"
                fs.mkdir(mode=0o755)
                with open_source() as chunks:
                    from .unpack import unpack_layer

                    result = unpack_layer(chunks, fs)
                    # Checked inside the `with` so a source sees the mismatch and can drop its bytes.
                    _verify_layer(result, descriptor, diff_id)
                meta = {
                    "diff_id": diff_id,
                    "digest": descriptor.digest,
                    "size": result.size,
                    "created": datetime.now(UTC).isoformat(),
                }
                (work / "layer.json").write_text(json.dumps(meta))
                # mkdtemp made it 0700; lowerdirs must be traversable by user-namespaced roots.
                work.chmod(0o755)
                # The rename is the commit: a crash before it leaves only a tmp dir for prune.
                os.rename(work, final)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
        return final / "fs"

    def ensure_layers(
        self, layers: Sequence[LayerToFetch], cancel: threading.Event | None = None
    ) -> None:
        """Unpack missing layers in parallel; the first failure sets `cancel` and is raised."""
        missing = [layer for layer in layers if not self.has_layer(layer.diff_id)]
        if len(missing) <= 1:
            for layer in missing:
                self.ensure_layer(layer.diff_id, layer.descriptor, layer.open)
            return
        # Imported here: concurrent.futures brings logging, which a `run` does not need.
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_LAYERS, len(missing))) as pool:
            futures = [
                pool.submit(self.ensure_layer, f.diff_id, f.descriptor, f.open) for f in missing
            ]
            wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f.done() and not f.cancelled() and f.exception()]
            if failed:
                # Sources watch `cancel`, so running downloads stop instead of finishing.
                if cancel is not None:
                    cancel.set()
                for future in futures:
                    future.cancel()
                error = failed[0].exception()
                assert error is not None
                raise error

    def _layer_meta(self, key: str) -> dict[str, Any]:
        try:
            meta: dict[str, Any] = json.loads((self.layers_dir / key / "layer.json").read_text())
            return meta
        except (FileNotFoundError, ValueError):
            return {"size": 0}

    def remove_layer(self, diff_id: str) -> int:
        """Delete one layer; refuses while any image uses it. Returns the bytes freed."""
        with self._store_lock():
            users = [r["id"] for r in self._records() if diff_id in r["layers"]]
            if users:
                raise LayerInUse(f"layer {diff_id} is used by image(s) {', '.join(users)}")
            return self._delete_layer(_hex(diff_id))

    def _delete_layer(self, key: str) -> int:
        with self._lock(f"layer-{key}", blocking=False) as locked:
            if not locked:
                return 0  # being unpacked or checked right now
            size = int(self._layer_meta(key).get("size", 0))
            path = self.layers_dir / key
            if not path.exists():
                return 0
            # Rename first so a crash mid-delete never leaves a layer that looks complete.
            doomed = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=self.tmp))
            os.rename(path, doomed / "layer")
            shutil.rmtree(doomed)
            return size

    # -- image records ---------------------------------------------------------------------

    def _records(self) -> list[dict[str, Any]]:
        found = []
        for path in self.records.glob("*.json"):
            with contextlib.suppress(FileNotFoundError, ValueError):
                found.append(json.loads(path.read_text()))
        return found

    def _write_record(self, record: dict[str, Any]) -> None:
        _atomic_write(
            self.records / f"{_hex(record['id'])}.json", json.dumps(record, indent=1).encode()
        )

    def _image(self, record: dict[str, Any]) -> Image:
        config = json.loads(self.read_blob(record["id"]))
        return Image(
            id=record["id"],
            digest=record["digest"],
            manifest_digest=record["manifest_digest"],
            repo_tags=list(record["repo_tags"]),
            repo_digests=list(record["repo_digests"]),
            config=config,
            layers=list(record["layers"]),
            layer_dirs=[self.layer_dir(d) for d in record["layers"]],
            size=int(record["size"]),
            created=record["created"],
            platform=record["platform"],
        )

    def commit_image(
        self,
        *,
        config_digest: str,
        blobs: dict[str, bytes],
        digest: str,
        manifest_digest: str,
        diff_ids: list[str],
        repo_tags: list[str],
        repo_digests: list[str],
        platform: str,
    ) -> Image:
        """Record an image whose layers are all unpacked; tags move here from other images."""
        with self._store_lock():
            for diff_id in diff_ids:
                if not self.has_layer(diff_id):
                    raise _LayerVanished(diff_id)
            for blob_digest, data in blobs.items():
                self.write_blob(blob_digest, data)
            records = {r["id"]: r for r in self._records()}
            for other in records.values():
                if other["id"] != config_digest and set(other["repo_tags"]) & set(repo_tags):
                    other["repo_tags"] = [t for t in other["repo_tags"] if t not in repo_tags]
                    self._write_record(other)
            record = records.get(config_digest) or {
                "id": config_digest,
                "repo_tags": [],
                "repo_digests": [],
                "created": datetime.now(UTC).isoformat(),
            }
            record.update(
                digest=digest,
                manifest_digest=manifest_digest,
                layers=diff_ids,
                platform=platform,
                blobs=sorted(set(record.get("blobs", [])) | set(blobs)),
                size=sum(int(self._layer_meta(_hex(d)).get("size", 0)) for d in diff_ids),
            )
            record["repo_tags"] = sorted(set(record["repo_tags"]) | set(repo_tags))
            record["repo_digests"] = sorted(set(record["repo_digests"]) | set(repo_digests))
            self._write_record(record)
            return self._image(record)

    def store_image(
        self,
        layers: Sequence[LayerToFetch],
        commit: Callable[[], Image],
        cancel: threading.Event | None = None,
    ) -> Image:
        """Unpack the layers and record the image, redoing layers a concurrent prune removed."""
        for _ in range(3):
            self.ensure_layers(layers, cancel)
            try:
                return commit()
            except _LayerVanished:
                continue
        raise ImageError("layers keep disappearing while the image is stored (concurrent prune?)")

    # -- public API ------------------------------------------------------------------------

    def import_layout(
        self,
        layout_dir: Path,
        tag: str | None = None,
        name: str | None = None,
        *,
        platform: str | None = None,
    ) -> Image:
        """Import an image from an OCI image layout directory (e.g. written by `skopeo copy`)."""
        from .layout import import_layout

        want = Platform.parse(platform) if platform else Platform.host()
        return import_layout(self, Path(layout_dir), tag=tag, name=name, platform=want)

    def pull(
        self,
        reference: str,
        credentials: tuple[str, str] | None = None,
        progress: ProgressCallback | None = None,
        insecure: bool = False,
        *,
        token: str | None = None,
        platform: str | None = None,
    ) -> Image:
        """Pull `HOST[:PORT]/REPO[:TAG|@DIGEST]` from a registry, or import `oci:PATH[:TAG]`.

        `credentials` go to the registry's token service (or as Basic auth); a `token` is a
        bearer token issued beforehand (by the portal) and is presented as it is.
        `progress(layer_digest, done, total)` is called from the download threads.
        """
        parsed = parse_reference(reference)
        want = Platform.parse(platform) if platform else Platform.host()
        if isinstance(parsed, LayoutReference):
            from .layout import import_layout

            return import_layout(self, parsed.path, tag=parsed.tag, name=None, platform=want)
        from .pull import pull_image

        return pull_image(
            self,
            parsed,
            credentials=credentials,
            token=token,
            progress=progress,
            insecure=insecure,
            platform=want,
        )

    def get(self, reference: str) -> Image:
        """Find an image by `name[:tag]`, `name@digest`, `sha256:…` (id or digest) or short id."""
        return self._image(self._find(reference))

    def _find(self, reference: str) -> dict[str, Any]:
        records = self._records()
        if reference.startswith("sha256:"):
            for record in records:
                if reference in (record["id"], record["digest"], record["manifest_digest"]):
                    return record
        elif "@" in reference:
            for record in records:
                if reference in record["repo_digests"]:
                    return record
        else:
            name, tag = split_local_name(reference)
            tagged = f"{name}:{tag or DEFAULT_TAG}"
            for record in records:
                if tagged in record["repo_tags"]:
                    return record
            if _SHORT_ID.match(reference):
                found = [r for r in records if _hex(r["id"]).startswith(reference)]
                if len(found) > 1:
                    raise AmbiguousReference(f"short id {reference} matches {len(found)} images")
                if found:
                    return found[0]
        raise ImageNotFound(f"no such image: {reference}")

    def hold(self, image_id: str, holder: str) -> None:
        """Mark an image as used (by a container); held images are neither removed nor pruned."""
        if "/" in holder or holder in ("", ".", ".."):
            raise ImageError(f"invalid holder name {holder!r}")
        with self._store_lock():
            record = self._find(image_id)
            path = self.holds / _hex(record["id"])
            path.mkdir(exist_ok=True)
            (path / holder).touch()

    @contextlib.contextmanager
    def using(self, image_id: str) -> Iterator[None]:
        """Keep ``image_id`` from being removed while the caller records a user of it that a
        holder source will name from then on (a container's directory, renamed into place).

        Cheaper than :meth:`hold`: no file per user, whose creation and deletion are journal
        writes on every container's create and remove.
        """
        with self._store_lock():
            if not (self.records / f"{_hex(check_digest(image_id))}.json").exists():
                raise ImageNotFound(f"no such image: {image_id}")
            yield

    def release(self, image_id: str, holder: str) -> None:
        with self._store_lock():
            path = self.holds / _hex(check_digest(image_id))
            with contextlib.suppress(FileNotFoundError):
                (path / holder).unlink()
            with contextlib.suppress(OSError):
                path.rmdir()

    def holders(self, image_id: str) -> list[str]:
        path = self.holds / _hex(image_id)
        found = {p.name for p in path.iterdir()} if path.is_dir() else set()
        for source in self.holder_sources:
            found.update(source(image_id))
        return sorted(found)

    def tag(self, reference: str, target: str) -> str:
        """Give the image ``reference`` names the name ``target`` (``name[:tag]``); a tag moves
        from the image that had it, as `docker tag` moves it."""
        name, tag = split_local_name(target)
        host, slash, path = name.partition("/")
        if not (slash and ("." in host or ":" in host or host == "localhost")):
            host, path = "", name
        if (
            not REPOSITORY_RE.match(path)
            or (host and not HOST_RE.match(host))
            or (tag is not None and not TAG_RE.match(tag))
        ):
            raise InvalidReference(f"invalid reference format: {target!r}")
        tagged = f"{name}:{tag or DEFAULT_TAG}"
        with self._store_lock():
            record = self._find(reference)
            for other in self._records():
                if other["id"] != record["id"] and tagged in other["repo_tags"]:
                    other["repo_tags"].remove(tagged)
                    self._write_record(other)
            record["repo_tags"] = sorted({*record["repo_tags"], tagged})
            self._write_record(record)
        return tagged

    def remove(self, reference: str, *, force: bool = False) -> list[str]:
        """Untag, or delete an image and the layers no other image uses; returns what was done.

        A tag that is one of several only loses the tag (as `docker rmi` does). An image held
        by a container is refused unless `force`, which then only untags it.
        """
        with self._store_lock():
            record = self._find(reference)
            done: list[str] = []
            by_name = not reference.startswith("sha256:") and "@" not in reference
            name, tag = split_local_name(reference)
            tagged = f"{name}:{tag or DEFAULT_TAG}"
            if by_name and tagged in record["repo_tags"] and len(record["repo_tags"]) > 1:
                record["repo_tags"].remove(tagged)
                self._write_record(record)
                return [f"untagged {tagged}"]
            holders = self.holders(record["id"])
            if holders:
                if not force:
                    raise ImageInUse(
                        f"image {reference} ({record['id'][7:19]}) is in use by container(s) "
                        f"{', '.join(holders)}"
                    )
                done += [f"untagged {t}" for t in record["repo_tags"]]
                record["repo_tags"], record["repo_digests"] = [], []
                self._write_record(record)
                return done
            done += [f"untagged {t}" for t in record["repo_tags"] + record["repo_digests"]]
            (self.records / f"{_hex(record['id'])}.json").unlink()
            done.append(f"deleted {record['id']}")
            self._collect(self._records())
            return done

    def prune(self) -> int:
        """Delete untagged unheld images, unused layers and blobs, stale temp files; bytes freed."""
        with self._store_lock():
            freed = 0
            records = self._records()
            kept = []
            for record in records:
                if not (
                    record["repo_tags"] or record["repo_digests"] or self.holders(record["id"])
                ):
                    (self.records / f"{_hex(record['id'])}.json").unlink()
                else:
                    kept.append(record)
            freed += self._collect(kept)
            for entry in self.tmp.iterdir():
                freed += self._remove_stale(entry, entry.name.split(".", 1)[0])
            for entry in self.partial.iterdir():
                freed += self._remove_stale(entry, entry.name.split("-", 1)[0])
            return freed

    def _remove_stale(self, path: Path, key: str) -> int:
        with self._lock(f"layer-{key}", blocking=False) as locked:
            if not locked:
                return 0
            size = _disk_usage(path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            return size

    def _collect(self, records: list[dict[str, Any]]) -> int:
        """Delete layers and blobs that no record references (store lock held)."""
        freed = 0
        used_layers = {_hex(d) for r in records for d in r["layers"]}
        for entry in self.layers_dir.iterdir():
            if entry.name not in used_layers:
                freed += self._delete_layer(entry.name)
        used_blobs = {_hex(d) for r in records for d in [r["id"], *r.get("blobs", [])]}
        for entry in self.blobs.iterdir():
            if entry.name not in used_blobs and not entry.name.startswith("."):
                freed += entry.stat().st_size
                entry.unlink()
        return freed

    # Last in the class: below it, `list` in an annotation would name this method.
    def list(self) -> list[Image]:
        images = []
        for record in self._records():
            with contextlib.suppress(ImageNotFound):
                images.append(self._image(record))
        return sorted(images, key=lambda image: image.created, reverse=True)


def _disk_usage(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for root, dirs, files in os.walk(path):
        for name in files + dirs:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total
