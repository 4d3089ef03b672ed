"""The volume store's keys: a project's volumes are its own, apart from other projects' and the host's."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime_agent.errors import InvalidSpec
from runtime_agent.isolation.volumes import VolumeStore


def test_the_same_name_in_two_projects_and_on_the_host_is_three_volumes(tmp_path: Path) -> None:
    store = VolumeStore(tmp_path)
    team, rival, host = store.ensure("team/data"), store.ensure("rival/data"), store.create("data")
    assert len({team.mountpoint, rival.mountpoint, host.mountpoint}) == 3
    assert (team.ref, team.project, team.inspect()["Project"]) == ("team/data", "team", "team")
    assert (host.ref, host.inspect()["Project"]) == ("data", None)
    assert [v.ref for v in store.list()] == ["data", "rival/data", "team/data"]
    assert [v.ref for v in store.list("team")] == ["team/data"]
    assert [v.ref for v in store.list("")] == ["data"]


def test_a_host_volume_named_like_a_project_is_not_that_project(tmp_path: Path) -> None:
    store = VolumeStore(tmp_path)
    store.create("team")
    owned = store.ensure("team/data")
    assert [v.ref for v in store.list()] == ["team", "team/data"]
    assert not Path(owned.mountpoint).is_relative_to(store.get("team").mountpoint)


def test_the_owner_label_is_the_stores_to_set(tmp_path: Path) -> None:
    volume = VolumeStore(tmp_path).create("data", {"berth.project": "rival", "tier": "db"}, project="team")
    assert volume.labels == {"berth.project": "team", "tier": "db"}


def test_an_anonymous_volume_of_a_project_is_the_projects(tmp_path: Path) -> None:
    volume = VolumeStore(tmp_path).ensure("team/")
    assert (volume.anonymous, volume.project, len(volume.name)) == (True, "team", 64)


@pytest.mark.parametrize("ref", ["../data", "Team/data", "a__b/data", "team/../x"])
def test_refs_outside_the_keys_are_refused(tmp_path: Path, ref: str) -> None:
    with pytest.raises(InvalidSpec):
        VolumeStore(tmp_path).ensure(ref)
    assert not (tmp_path / "volumes").exists() or list((tmp_path / "volumes").rglob("volume.json")) == []
