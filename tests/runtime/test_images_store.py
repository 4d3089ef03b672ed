"""The image store on OCI layouts: import, whiteouts in a real overlay, integrity, sharing, removal."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import runtime_agent.images.unpack as unpack_module
from runtime_agent.images import (
    DigestMismatch,
    ImageError,
    ImageInUse,
    ImageNotFound,
    ImageStore,
    InvalidLayout,
    LayerInUse,
    PlatformNotFound,
)
from tests.support.images import File, build_busybox_layout, host_platform

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: mknod whiteouts, trusted xattrs"
)


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


def _manifest(layout: Path) -> dict:
    index = json.loads((layout / "index.json").read_text())
    return json.loads(_blob(layout, index["manifests"][0]["digest"]).read_bytes())


def _mounts() -> str:
    return Path("/proc/self/mountinfo").read_text()


def test_import_gives_an_image_with_its_config_and_unpacked_layer(
    image_store: ImageStore, busybox_layout: Path
) -> None:
    image = image_store.import_layout(busybox_layout, name="busybox")

    assert image.repo_tags == ["busybox:latest"]
    assert image.id == _manifest(busybox_layout)["config"]["digest"]
    assert image.runtime_config["Cmd"] == ["sh"]
    assert image.config["architecture"] == host_platform().split("/")[1]
    [layer] = image.layer_dirs
    assert (layer / "bin" / "busybox").stat().st_mode & 0o777 == 0o755
    assert os.readlink(layer / "bin" / "sh") == "busybox"
    assert (layer / "etc" / "passwd").read_text().startswith("root:x:0:0:")
    assert stat.S_IMODE((layer / "tmp").stat().st_mode) == 0o1777
    sizes = [(layer / f).stat().st_size for f in ("bin/busybox", "etc/passwd", "etc/group")]
    assert image.size == sum(sizes)


def test_images_are_found_by_tag_name_id_short_id_and_digest(
    image_store: ImageStore, busybox_layout: Path
) -> None:
    image = image_store.import_layout(busybox_layout, name="127.0.0.1:5000/bb")

    for reference in (
        "127.0.0.1:5000/bb:latest",
        "127.0.0.1:5000/bb",
        image.id,
        image.short_id,
        image.digest,
    ):
        assert image_store.get(reference).id == image.id
    with pytest.raises(ImageNotFound) as caught:
        image_store.get("nothing:here")
    assert str(caught.value) == "no such image: nothing:here"


def test_whiteouts_and_opaque_dirs_become_overlay_whiteouts(
    image_store: ImageStore, multilayer_layout: Path
) -> None:
    image = image_store.import_layout(multilayer_layout)

    top = image.layer_dirs[-1]
    for deleted in ("etc/motd", "bin/vi"):
        st = (top / deleted).lstat()
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert os.getxattr(top / "opt" / "data", "trusted.overlay.opaque") == b"y"
    assert not list(top.rglob(".wh.*"))


def test_layers_mount_as_an_overlay_without_the_deleted_files(
    image_store: ImageStore, multilayer_layout: Path, tmp_path: Path
) -> None:
    image = image_store.import_layout(multilayer_layout)
    upper, work, merged = (tmp_path / name for name in ("upper", "work", "merged"))
    for path in (upper, work, merged):
        path.mkdir()
    lower = ":".join(str(d) for d in reversed(image.layer_dirs))

    subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={lower},upperdir={upper},workdir={work}",
            str(merged),
        ],
        check=True,
    )
    try:
        assert not (merged / "etc" / "motd").exists()
        assert not (merged / "bin" / "vi").exists()
        assert sorted(os.listdir(merged / "opt" / "data")) == ["new"]
        assert (merged / "etc" / "added").read_text() == "added by the top layer\n"
        assert (merged / "bin" / "busybox").is_file()
        (merged / "etc" / "written").write_text("upper only")
    finally:
        subprocess.run(["umount", str(merged)], check=True)

    assert f" {merged} " not in _mounts()
    assert (upper / "etc" / "written").exists()
    assert not any((d / "etc" / "written").exists() for d in image.layer_dirs)


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_zstd_and_uncompressed_layers_unpack_to_the_same_shared_layer(
    image_store: ImageStore, make_layout: Callable[..., Path], compression: str
) -> None:
    gzip_image = image_store.import_layout(make_layout("gz"), name="gz")
    other = image_store.import_layout(
        make_layout(compression, compression=compression), name="other"
    )

    assert other.layer_dirs == gzip_image.layer_dirs
    assert len(os.listdir(image_store.layers_dir)) == 1


def test_an_index_gives_the_hosts_platform_or_the_one_asked_for(
    image_store: ImageStore, multiplatform_layout: Path
) -> None:
    native = image_store.import_layout(multiplatform_layout, name="native")
    arm = image_store.import_layout(multiplatform_layout, name="arm", platform="linux/arm64")

    assert native.config["architecture"] == host_platform().split("/")[1]
    assert arm.config["architecture"] == "arm64"
    assert native.digest == arm.digest != arm.manifest_digest
    assert native.layer_dirs == arm.layer_dirs
    with pytest.raises(PlatformNotFound) as caught:
        image_store.import_layout(multiplatform_layout, platform="linux/s390x")
    assert str(caught.value) == (
        "no image for platform linux/s390x in the index (it offers: linux/amd64, linux/arm64)"
    )


def test_a_layout_tag_chooses_among_several_images(image_store: ImageStore, tmp_path: Path) -> None:
    layout = build_busybox_layout(tmp_path / "two", tag="one")
    other = build_busybox_layout(
        tmp_path / "other", tag="two", extra_layers=[[File("etc/two", b"2")]]
    )
    index = json.loads((layout / "index.json").read_text())
    index["manifests"] += json.loads((other / "index.json").read_text())["manifests"]
    (layout / "index.json").write_text(json.dumps(index))
    for blob in (other / "blobs" / "sha256").iterdir():
        (layout / "blobs" / "sha256" / blob.name).write_bytes(blob.read_bytes())

    image = image_store.import_layout(layout, tag="two", name="pick")

    assert image.repo_tags == ["pick:two"]
    assert (image.layer_dirs[-1] / "etc" / "two").read_text() == "2"
    with pytest.raises(InvalidLayout) as caught:
        image_store.import_layout(layout)
    assert (
        str(caught.value)
        == f"{layout} holds 2 images; choose one with oci:{layout}:TAG (tags: one, two)"
    )


def test_a_tampered_layer_is_refused_and_leaves_nothing(
    image_store: ImageStore, tmp_path: Path
) -> None:
    # Uncompressed, so the flipped byte still unpacks and only the digest can catch it.
    layout = build_busybox_layout(tmp_path / "tampered", compression="none")
    descriptor = _manifest(layout)["layers"][0]
    layer = _blob(layout, descriptor["digest"])
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.write_bytes(bytes(data))

    with pytest.raises(DigestMismatch) as caught:
        image_store.import_layout(layout)

    assert str(caught.value).startswith(
        f"layer {descriptor['digest']}: got {descriptor['size']} bytes with digest sha256:"
    )
    assert os.listdir(image_store.layers_dir) == []
    assert os.listdir(image_store.tmp) == []
    assert image_store.list() == []


def test_a_corrupt_gzip_layer_is_refused_and_leaves_nothing(
    image_store: ImageStore, tmp_path: Path
) -> None:
    layout = build_busybox_layout(tmp_path / "corrupt")
    layer = _blob(layout, _manifest(layout)["layers"][0]["digest"])
    data = bytearray(layer.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\0" * 64
    layer.write_bytes(bytes(data))

    with pytest.raises(ImageError) as caught:
        image_store.import_layout(layout)

    assert str(caught.value).startswith("layer is not valid gzip:")
    assert os.listdir(image_store.layers_dir) == []
    assert os.listdir(image_store.tmp) == []


def test_a_layer_that_does_not_match_its_diff_id_is_refused(
    image_store: ImageStore, tmp_path: Path
) -> None:
    layout = build_busybox_layout(tmp_path / "lying")
    manifest = _manifest(layout)
    config_path = _blob(layout, manifest["config"]["digest"])
    config = json.loads(config_path.read_bytes())
    config["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    config_bytes = json.dumps(config).encode()
    digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    _blob(layout, digest).write_bytes(config_bytes)
    manifest["config"].update(digest=digest, size=len(config_bytes))
    manifest_bytes = json.dumps(manifest).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    _blob(layout, manifest_digest).write_bytes(manifest_bytes)
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0].update(digest=manifest_digest, size=len(manifest_bytes))
    (layout / "index.json").write_text(json.dumps(index))

    with pytest.raises(DigestMismatch) as caught:
        image_store.import_layout(layout)

    assert "but the image config says sha256:" + "0" * 64 in str(caught.value)
    assert os.listdir(image_store.layers_dir) == []
    assert os.listdir(image_store.tmp) == []


def test_a_tampered_config_is_refused(image_store: ImageStore, tmp_path: Path) -> None:
    layout = build_busybox_layout(tmp_path / "config")
    config = _blob(layout, _manifest(layout)["config"]["digest"])
    config.write_bytes(config.read_bytes().replace(b'"sh"', b'"xx"'))

    with pytest.raises(DigestMismatch) as caught:
        image_store.import_layout(layout)

    assert str(caught.value).startswith("image config: digest sha256:")


def test_concurrent_imports_of_one_layer_unpack_it_once(
    tmp_path: Path, multilayer_layout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    real_unpack = unpack_module.unpack_layer

    def slow_unpack(chunks, dest):  # type: ignore[no-untyped-def]
        calls.append(dest)
        time.sleep(0.2)  # widens the window in which a second importer would start the same work
        return real_unpack(chunks, dest)

    monkeypatch.setattr(unpack_module, "unpack_layer", slow_unpack)
    stores = [ImageStore(tmp_path / "state") for _ in range(4)]
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda s=s: results.append(s.import_layout(multilayer_layout)))
        for s in stores
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4
    assert len(calls) == 3
    assert len(os.listdir(stores[0].layers_dir)) == 3


def test_remove_keeps_shared_layers_until_the_last_image_goes(
    image_store: ImageStore, busybox_layout: Path, multilayer_layout: Path
) -> None:
    base = image_store.import_layout(busybox_layout, name="base")
    multi = image_store.import_layout(multilayer_layout, name="multi")
    assert multi.layer_dirs[0] == base.layer_dirs[0]

    assert image_store.remove("multi") == ["untagged multi:latest", f"deleted {multi.id}"]

    assert base.layer_dirs[0].is_dir()
    assert not any(d.exists() for d in multi.layer_dirs[1:])
    image_store.remove(base.id)
    assert os.listdir(image_store.layers_dir) == []
    assert os.listdir(image_store.blobs) == []
    assert image_store.list() == []


def test_removing_one_of_several_tags_only_untags(
    image_store: ImageStore, busybox_layout: Path
) -> None:
    image_store.import_layout(busybox_layout, name="one")
    image = image_store.import_layout(busybox_layout, name="two")

    assert image_store.remove("one") == ["untagged one:latest"]

    assert image_store.get(image.id).repo_tags == ["two:latest"]


def test_a_used_layer_or_held_image_is_not_removed(
    image_store: ImageStore, busybox_layout: Path
) -> None:
    image = image_store.import_layout(busybox_layout, name="held")
    image_store.hold(image.id, "container-1")

    with pytest.raises(LayerInUse) as layer_error:
        image_store.remove_layer(image.layers[0])
    with pytest.raises(ImageInUse) as image_error:
        image_store.remove("held")

    assert str(layer_error.value) == f"layer {image.layers[0]} is used by image(s) {image.id}"
    assert (
        str(image_error.value)
        == f"image held ({image.short_id}) is in use by container(s) container-1"
    )
    assert image.layer_dirs[0].is_dir()
    image_store.release(image.id, "container-1")
    image_store.remove("held")
    assert os.listdir(image_store.layers_dir) == []


def test_prune_removes_untagged_images_and_leftovers(
    image_store: ImageStore, busybox_layout: Path, multilayer_layout: Path
) -> None:
    old = image_store.import_layout(multilayer_layout, name="app")
    new = image_store.import_layout(busybox_layout, name="app")  # takes the tag from `old`
    (image_store.tmp / f"{'a' * 64}.crashed").mkdir()
    (image_store.tmp / f"{'a' * 64}.crashed" / "junk").write_bytes(b"x" * 1000)
    (image_store.partial / f"{'b' * 64}-{'c' * 64}").write_bytes(b"y" * 500)

    freed = image_store.prune()

    assert freed >= 1500
    assert [i.id for i in image_store.list()] == [new.id]
    assert sorted(os.listdir(image_store.layers_dir)) == [new.layers[0].split(":")[1]]
    assert not any(d.exists() for d in old.layer_dirs[1:])
    assert os.listdir(image_store.tmp) == []
    assert os.listdir(image_store.partial) == []


CRASHING_IMPORT = """
import sys, time
from pathlib import Path
from runtime_agent.images import ImageStore
from runtime_agent.images.layout import Layout

real = Layout.open_chunks

def slow(self, descriptor):
    context = real(self, descriptor)
    class Slow:
        def __enter__(self):
            chunks = context.__enter__()
            def trickle():
                for chunk in chunks:
                    yield chunk
                    Path(sys.argv[3]).touch()
                    time.sleep(60)
            return trickle()
        def __exit__(self, *exc):
            return context.__exit__(*exc)
    return Slow()

Layout.open_chunks = slow
ImageStore(Path(sys.argv[1])).import_layout(Path(sys.argv[2]))
"""


def test_a_crash_mid_unpack_leaves_no_layer_and_prune_cleans_up(
    tmp_path: Path, busybox_layout: Path
) -> None:
    started = tmp_path / "started"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CRASHING_IMPORT,
            str(tmp_path / "state"),
            str(busybox_layout),
            str(started),
        ],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 20
        while not started.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert started.exists()
    finally:
        child.kill()
        child.wait()
    store = ImageStore(tmp_path / "state")

    assert os.listdir(store.layers_dir) == []
    assert len(os.listdir(store.tmp)) == 1
    assert store.prune() > 0
    assert os.listdir(store.tmp) == []
    assert store.import_layout(busybox_layout).layer_dirs[0].is_dir()
