"""Hostile layer tars: whatever they try, nothing is written or linked outside the layer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime_agent.images import ImageStore, UnsafeLayer
from tests.support.images import HOSTILE_KINDS, build_hostile_layout

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: chown and mknod while unpacking"
)

ESCAPED_NAMES = {
    "dotdot",
    "absolute",
    "through-symlink",
    "through-relative-symlink",
    "stolen",
    "looped",
    "sda",
}
REFUSALS = {
    "dotdot": "climbs out of the layer with '..'",
    "hardlink_escape": "which is not in the layer",
    "hardlink_through_symlink": "which is not in the layer",
    "device": "is a device node (8:0); only whiteouts are allowed",
    "symlink_loop": "too many levels of symlinks",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_KINDS))
def test_hostile_layers_write_nothing_outside_the_layer(kind: str, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_text("original\n")
    store = ImageStore(tmp_path / "state")
    layout = build_hostile_layout(tmp_path / "layout", kind, outside)

    if HOSTILE_KINDS[kind] == "refused":
        with pytest.raises(UnsafeLayer) as caught:
            store.import_layout(layout)
        assert REFUSALS[kind] in str(caught.value)
        assert os.listdir(store.layers_dir) == []
        assert os.listdir(store.tmp) == []
    else:
        image = store.import_layout(layout)
        [layer] = image.layer_dirs
        inside = layer / str(outside).lstrip("/")
        assert inside.is_dir() or (layer / "victim").is_file()

    assert sorted(os.listdir(outside)) == ["victim"]
    assert victim.read_text() == "original\n"
    assert victim.stat().st_nlink == 1
    layers = store.layers_dir
    leaked = [
        path
        for path in tmp_path.rglob("*")
        if path.name in ESCAPED_NAMES and layers not in path.parents and "layout" not in path.parts
    ]
    assert leaked == []


def test_absolute_names_and_escaping_symlinks_land_inside_the_layer(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = ImageStore(tmp_path / "state")

    absolute = store.import_layout(
        build_hostile_layout(tmp_path / "a", "absolute", outside), name="a"
    )
    symlink = store.import_layout(
        build_hostile_layout(tmp_path / "s", "symlink_escape", outside), name="s"
    )

    relative = str(outside).lstrip("/")
    assert (absolute.layer_dirs[0] / relative / "absolute").read_text() == "escaped\n"
    assert (symlink.layer_dirs[0] / relative / "through-symlink").read_text() == "escaped\n"
    assert os.readlink(symlink.layer_dirs[0] / "escape") == str(outside)
