"""cp: files out of and into running and stopped containers, resolved inside the container."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_agent.container.state import Container
from runtime_agent.runtime.api import Runtime
from tests.runtime.containers.conftest import BRIDGE, SUBNET, leftovers
from tests.runtime.containers.test_lifecycle import _cli
from tests.runtime.containers.test_userns import host_root

Make = Callable[..., Container]

SETUP = (
    "mkdir -p /data/sub && echo inside > /data/sub/file && ln -s /etc/passwd /data/passwd-link"
    " && ln -s /etc /data/etc-link && touch /ready && exec sleep 60"
)


def ready(runtime: Runtime, c: Container) -> Container:
    for _ in range(500):
        if runtime.exec(c, ["test", "-e", "/ready"]).exit_code == 0:
            return c
    raise AssertionError("the container never got ready")


def test_copy_out_keeps_links_as_links_and_renames(
    runtime: Runtime, container: Make, tmp_path: Path
) -> None:
    c = ready(runtime, container("sh", "-c", SETUP))
    assert _cli(runtime.state_dir, "cp", f"{c.spec.name}:/data", str(tmp_path)).returncode == 0
    assert (tmp_path / "data/sub/file").read_text() == "inside\n"
    # The container's links are copied as they are, never followed to the host's files.
    assert os.readlink(tmp_path / "data/passwd-link") == "/etc/passwd"
    assert os.readlink(tmp_path / "data/etc-link") == "/etc"
    assert (tmp_path / "data/sub/file").stat().st_uid == os.getuid()
    renamed = _cli(runtime.state_dir, "cp", f"{c.spec.name}:/data/sub/file", str(tmp_path / "copy"))
    assert renamed.returncode == 0, renamed.stderr
    assert (tmp_path / "copy").read_text() == "inside\n"


def test_copy_in_lands_inside_the_container_whatever_its_links_say(
    runtime: Runtime, container: Make, tmp_path: Path
) -> None:
    c = ready(runtime, container("sh", "-c", SETUP))
    host_file = tmp_path / "settings.conf"
    host_file.write_text("from the host\n")
    os.chown(host_file, 1234, 1234)
    name = c.spec.name
    assert _cli(runtime.state_dir, "cp", str(host_file), f"{name}:/data/").returncode == 0
    assert (
        _cli(runtime.state_dir, "cp", str(host_file), f"{name}:/data/renamed.conf").returncode == 0
    )
    # /data/etc-link points at /etc: the container's, not the host's.
    assert _cli(runtime.state_dir, "cp", str(host_file), f"{name}:/data/etc-link/").returncode == 0
    assert not Path("/etc/settings.conf").exists()
    listed = runtime.exec(c, ["sh", "-c", "stat -c '%u:%g %n' /data/*.conf /etc/settings.conf"])
    assert listed.stdout.decode().splitlines() == [
        "0:0 /data/renamed.conf", "0:0 /data/settings.conf", "0:0 /etc/settings.conf",
    ]  # fmt: skip


def test_a_stopped_containers_files_are_copied_and_nothing_stays_mounted(
    runtime: Runtime, container: Make, tmp_path: Path
) -> None:
    c = container("sh", "-c", "echo kept > /kept")
    assert runtime.wait(c, timeout=10) == 0
    mounts_before = Path("/proc/self/mountinfo").read_text().count("\n")
    assert (
        _cli(runtime.state_dir, "cp", f"{c.spec.name}:/kept", str(tmp_path / "kept")).returncode
        == 0
    )
    assert (tmp_path / "kept").read_text() == "kept\n"
    (tmp_path / "added").write_text("added while stopped\n")
    assert (
        _cli(runtime.state_dir, "cp", str(tmp_path / "added"), f"{c.spec.name}:/").returncode == 0
    )
    assert Path("/proc/self/mountinfo").read_text().count("\n") == mounts_before
    assert not list(runtime.state_dir.glob("copy.*"))
    assert (c.upper / "added").read_text() == "added while stopped\n"
    runtime.start(c)
    runtime.wait(c, timeout=10)
    runtime.remove(c)
    assert leftovers(c.id) == []


def test_copy_into_a_user_namespace_container_gives_the_files_to_its_root(
    runtime: Runtime, container: Make, tmp_path: Path
) -> None:
    if tuple(int(n) for n in os.uname().release.split(".")[:2]) < (6, 15):
        pytest.skip("user namespace containers need Linux 6.15 (see test_userns)")
    c = ready(runtime, container("sh", "-c", "touch /ready; exec sleep 60", userns="auto"))
    (tmp_path / "note").write_text("for root inside\n")
    assert _cli(runtime.state_dir, "cp", str(tmp_path / "note"), f"{c.spec.name}:/").returncode == 0
    assert runtime.exec(c, ["stat", "-c", "%u:%g", "/note"]).stdout == b"0:0\n"
    assert (c.upper / "note").stat().st_uid == host_root(runtime, c)
    out = tmp_path / "back"
    assert _cli(runtime.state_dir, "cp", f"{c.spec.name}:/note", str(out)).returncode == 0
    assert out.read_text() == "for root inside\n"


def test_tar_streams_on_stdin_and_stdout(runtime: Runtime, container: Make) -> None:
    c = ready(runtime, container("sh", "-c", SETUP))
    env = {**os.environ, "BERTH_AGENT_STATE": str(runtime.state_dir), "BERTH_BRIDGE": BRIDGE,
           "BERTH_SUBNET": SUBNET}  # fmt: skip
    cli = [sys.executable, "-m", "runtime_agent", "cp"]
    out = subprocess.run([*cli, f"{c.spec.name}:/data/sub", "-"], capture_output=True, env=env)
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        assert sorted(tar.getnames()) == ["sub", "sub/file"]
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as tar:
        data = b"streamed\n"
        member = tarfile.TarInfo("streamed.txt")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    put = subprocess.run([*cli, "-", f"{c.spec.name}:/data"], input=stream.getvalue(), env=env)
    assert put.returncode == 0
    assert output_of(runtime, c, "cat", "/data/streamed.txt") == "streamed\n"


def output_of(runtime: Runtime, c: Container, *argv: str) -> str:
    return runtime.exec(c, list(argv)).stdout.decode()


def test_copy_errors_are_clear(runtime: Runtime, container: Make, tmp_path: Path) -> None:
    c = ready(runtime, container("sh", "-c", SETUP))
    state, name = runtime.state_dir, c.spec.name
    for args, message in (
        ([f"{name}:/missing", str(tmp_path)], f"Could not find the file /missing in container {name}"),
        ([str(tmp_path / "missing"), f"{name}:/"], f"could not find the file {tmp_path}/missing on the host"),
        ([f"{name}:/data", f"{name}:/other"], "copying between containers is not supported"),
        ([str(tmp_path), str(tmp_path)], "must specify at least one container source"),
        ([f"{name}:/data", f"{tmp_path}/no/such/"], f"destination directory {tmp_path}/no/such/ must exist"),
    ):  # fmt: skip
        refused = _cli(state, "cp", *args)
        assert (refused.returncode, refused.stderr) == (
            1,
            f"Error response from daemon: {message}\n",
        )


def test_a_directorys_contents_with_slash_dot(
    runtime: Runtime, container: Make, tmp_path: Path
) -> None:
    c = ready(runtime, container("sh", "-c", SETUP))
    state, name = runtime.state_dir, c.spec.name
    site = tmp_path / "site"
    (site / "css").mkdir(parents=True)
    (site / "index.html").write_text("<h1>hi</h1>\n")
    (site / "css" / "main.css").write_text("h1 {}\n")
    # Into an existing directory, and into one the copy makes.
    assert _cli(state, "cp", f"{site}/.", f"{name}:/data").returncode == 0
    assert _cli(state, "cp", f"{site}/.", f"{name}:/www").returncode == 0
    listed = runtime.exec(c, ["sh", "-c", "ls /data /www /www/css"]).stdout.decode().split()
    assert listed == ["/data:", "css", "etc-link", "index.html", "passwd-link", "sub",
                      "/www:", "css", "index.html", "/www/css:", "main.css"]  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    assert _cli(state, "cp", f"{name}:/www/.", str(out)).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["css", "index.html"]
    assert _cli(state, "cp", f"{name}:/www/.", str(tmp_path / "fresh")).returncode == 0
    assert (tmp_path / "fresh" / "css" / "main.css").read_text() == "h1 {}\n"
