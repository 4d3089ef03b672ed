"""Interactive containers: stdin kept open (-i), a terminal (-t), and attaching to them."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from runtime_agent.container import attach
from runtime_agent.container.state import Container
from runtime_agent.images import Image
from runtime_agent.runtime.api import Runtime
from tests.runtime.containers.conftest import BRIDGE, SUBNET, leftovers, output
from tests.runtime.containers.test_lifecycle import _cli

Make = Callable[..., Container]


class Terminal:
    """The CLI run on a pseudo-terminal of ours, as a user's shell would run it."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd, self.seen = pid, fd, b""

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def expect(self, token: bytes, timeout: float = 15) -> bytes:
        deadline = time.monotonic() + timeout
        while token not in self.seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{token!r} never came; the terminal showed {self.seen!r}"
            ready, _, _ = select.select([self.fd], [], [], min(remaining, 0.2))
            if ready:
                with contextlib.suppress(OSError):  # EIO: the CLI has exited, the terminal closed
                    self.seen += os.read(self.fd, 4096)
        return self.seen

    def resize(self, rows: int, columns: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def exit_code(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            assert time.monotonic() < deadline, f"the CLI did not exit; it showed {self.seen!r}"
            try:
                self.seen += os.read(self.fd, 4096)  # drained, or a full terminal blocks it
            except OSError:
                time.sleep(0.02)


@contextmanager
def cli_on_a_terminal(
    state: Path, *args: str, rows: int = 40, columns: int = 120
) -> Iterator[Terminal]:
    env = {
        **os.environ,
        "BERTH_AGENT_STATE": str(state),
        "BERTH_BRIDGE": BRIDGE,
        "BERTH_SUBNET": SUBNET,
    }
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs at once
        os.execve(sys.executable, [sys.executable, "-m", "runtime_agent", *args], env)
    terminal = Terminal(pid, fd)
    terminal.resize(rows, columns)
    try:
        yield terminal
    finally:
        with contextlib.suppress(ChildProcessError):  # reaped by exit_code() already
            if not os.waitpid(pid, os.WNOHANG)[0]:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
        os.close(fd)


def test_a_shell_on_a_terminal_sizes_job_control_and_exit_code(
    runtime: Runtime, busybox: Image
) -> None:
    with cli_on_a_terminal(runtime.state_dir, "run", "-it", "--rm", "--name", "berth-tty",
                           "--network", "none", "busybox", "sh") as terminal:  # fmt: skip
        terminal.expect(b"/ # ")
        terminal.type("tty; stty size\r")
        terminal.expect(b"/dev/pts/0\r\n40 120\r\n")
        # The container follows our terminal's size.
        terminal.resize(30, 100)
        # SIGWINCH reaches the CLI, and the size the container, asynchronously: ask until it has.
        for _ in range(50):
            terminal.seen = b""
            terminal.type("stty size\r")
            if b"30 100\r\n" in terminal.expect(b"\r\n/ # "):
                break
        assert b"30 100\r\n" in terminal.seen
        # ^C goes through the terminal to the foreground job alone; the shell prompts again.
        terminal.type("sleep 30\r")
        # Typed any sooner, ^C reaches the shell's line editor, which reads it as a character.
        wait_for_foreground_child(runtime.get("berth-tty").state.pid, "sleep")
        started = time.monotonic()
        terminal.type("\x03")
        terminal.type("echo after-$((6*7))\r")
        terminal.expect(b"after-42")
        assert time.monotonic() - started < 10
        container_id = runtime.get("berth-tty").id
        terminal.type("exit 3\r")
        assert terminal.exit_code() == 3
    assert [c for c in runtime.list(all=True) if c.spec.name == "berth-tty"] == []
    assert leftovers(container_id) == []


def wait_for_foreground_child(parent: int, command: str) -> None:
    """Until a child ``command`` of ``parent`` leads the terminal's foreground process group."""
    deadline = time.monotonic() + 10
    while True:
        for stat_file in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat_file.read_text().rsplit(")", 1)[1].split()
                comm = stat_file.read_text().split("(", 1)[1].rsplit(")", 1)[0]
            except (OSError, IndexError):
                continue
            # After the command name: state, ppid, pgrp, session, tty_nr, tpgid.
            if comm == command and int(fields[1]) == parent and fields[2] == fields[5]:
                return
        assert time.monotonic() < deadline, f"no {command} in the foreground"
        time.sleep(0.02)


def test_run_i_without_a_terminal_pipes_stdin(runtime: Runtime, busybox: Image) -> None:
    env = {**os.environ, "BERTH_AGENT_STATE": str(runtime.state_dir), "BERTH_BRIDGE": BRIDGE,
           "BERTH_SUBNET": SUBNET}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "runtime_agent", "run", "-i", "--rm", "--network", "none",
         "busybox", "sh", "-c", "read first; echo got-$first; cat; echo end"],
        input="one\ntwo\nthree\n", capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "got-one\ntwo\nthree\nend\n",
        "",
    )


def test_output_written_before_attaching_is_replayed_and_input_written(
    runtime: Runtime, container: Make
) -> None:
    c = container("sh", "-c", "echo early; cat; echo done >&2", interactive=True)
    deadline = time.monotonic() + 10
    while "early" not in output_so_far(runtime, c):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with attach.connect(c.dir) as connection:
        connection.sendall(
            attach.frame(attach.INPUT, b"typed\n") + attach.frame(attach.CLOSE_STDIN)
        )
        received = read_frames(connection)
    assert received == [(b"o", b"early\ntyped\n"), (b"e", b"done\n")]
    assert runtime.wait(c, timeout=10) == 0
    assert output(runtime, c) == "early\ntyped\n"
    assert not (c.dir / attach.SOCKET_NAME).exists()


def output_so_far(runtime: Runtime, c: Container) -> str:
    return b"".join(e.data for e in runtime.logs(c)).decode()


def read_frames(connection: object) -> list[tuple[bytes, bytes]]:
    reader, frames = attach.FrameReader(), []
    connection.settimeout(10)  # type: ignore[attr-defined]
    while data := connection.recv(65536):  # type: ignore[attr-defined]
        frames += list(reader.feed(data))
    # Output arrives in pieces as it is read: merge neighbours of one stream.
    merged: list[tuple[bytes, bytes]] = []
    for kind, payload in frames:
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + payload)
        else:
            merged.append((kind, payload))
    return merged


def test_a_terminal_without_stdin_with_init_and_another_user(
    runtime: Runtime, busybox: Image
) -> None:
    state = runtime.state_dir
    plain = _cli(state, "run", "-t", "--rm", "--network", "none", "busybox", "sh", "-c", "tty")
    # (The terminal's CR LF line ends are read back as LF in text mode.)
    assert (plain.returncode, plain.stdout) == (0, "/dev/pts/0\n")
    init = _cli(state, "run", "-t", "--init", "--rm", "--network", "none", "busybox", "sh", "-c",
                "tty; echo $$")  # fmt: skip
    terminal, pid = init.stdout.split()
    # The shell is the init's child, and the terminal's still.
    assert (init.returncode, terminal) == (0, "/dev/pts/0") and pid != "1"
    user = _cli(state, "run", "-t", "--rm", "-u", "nobody", "--network", "none", "busybox", "sh",
                "-c", 'stat -c %u "$(tty)"')  # fmt: skip
    assert (user.returncode, user.stdout) == (0, "65534\n")


def test_attach_to_a_detached_interactive_shell(runtime: Runtime, busybox: Image) -> None:
    state = runtime.state_dir
    run = _cli(state, "run", "-dit", "--name", "berth-attach", "--network", "none", "busybox", "sh")
    assert run.returncode == 0, run.stderr
    info = json.loads(_cli(state, "inspect", "berth-attach").stdout)[0]
    assert (info["Config"]["Tty"], info["Config"]["OpenStdin"]) == (True, True)
    with cli_on_a_terminal(state, "attach", "berth-attach") as terminal:
        # The prompt the shell wrote before anyone attached comes first.
        terminal.expect(b"/ # ")
        terminal.type("echo attached-$((2+3))\r")
        terminal.expect(b"attached-5\r\n")
        terminal.type("exit 4\r")
        assert terminal.exit_code() == 4
    refused = _cli(state, "attach", "berth-attach")
    assert (refused.returncode, refused.stderr) == (
        1, "Error response from daemon: You cannot attach to a stopped container, start it first\n"
    )  # fmt: skip
    assert _cli(state, "rm", "berth-attach").returncode == 0


def test_the_attach_socket_is_roots_alone(runtime: Runtime, container: Make) -> None:
    c = container("cat", interactive=True)
    deadline = time.monotonic() + 10
    while not (c.dir / attach.SOCKET_NAME).exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert (c.dir / attach.SOCKET_NAME).stat().st_mode & 0o777 == 0o600
    pid = os.fork()
    if pid == 0:  # pragma: no cover - reports through its exit code
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                attach.connect(c.dir)
            except PermissionError:
                code = 0
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


@pytest.mark.parametrize("flags", [{"tty": True}, {"interactive": True}])
def test_stopping_an_interactive_container_lets_attached_clients_go(
    runtime: Runtime, container: Make, flags: dict[str, bool]
) -> None:
    c = container("sleep", "30", **flags)
    deadline = time.monotonic() + 10
    while not (c.dir / attach.SOCKET_NAME).exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    with attach.connect(c.dir) as connection:
        runtime.stop(c, timeout=0.2)
        assert read_frames(connection) == []
    assert c.state.exit_code == 137


def test_exec_it_runs_a_shell_on_a_terminal_of_the_container(
    runtime: Runtime, container: Make
) -> None:
    c = container("sleep", "300", user="nobody")
    with cli_on_a_terminal(
        runtime.state_dir, "exec", "-it", "-u", "root", c.spec.name, "sh"
    ) as terminal:
        terminal.expect(b"/ # ")
        terminal.type("tty; stty size; id -u\r")
        seen = terminal.expect(b"40 120\r\n0\r\n")
        assert b"/dev/pts/0\r\n" in seen  # the container's devpts, and only terminal there
        terminal.type("exit 5\r")
        assert terminal.exit_code() == 5
    assert c.state.running


def test_exec_i_passes_stdin_on(runtime: Runtime, container: Make) -> None:
    c = container("sleep", "300")
    env = {**os.environ, "BERTH_AGENT_STATE": str(runtime.state_dir), "BERTH_BRIDGE": BRIDGE,
           "BERTH_SUBNET": SUBNET}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "runtime_agent", "exec", "-i", c.spec.name, "sh", "-c", "wc -l; cat"],
        input="one\ntwo\n", capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout.split()) == (0, ["2"])
    without = _cli(runtime.state_dir, "exec", c.spec.name, "sh", "-c", "wc -c")
    assert (without.returncode, without.stdout.strip()) == (0, "0")


def test_run_rm_removes_the_container_even_when_the_terminal_closes_first(
    runtime: Runtime, busybox: Image
) -> None:
    with cli_on_a_terminal(runtime.state_dir, "run", "-it", "--rm", "--name", "berth-hangup",
                           "--network", "none", "busybox", "sh") as terminal:  # fmt: skip
        terminal.expect(b"/ # ")
        container_id = runtime.get("berth-hangup").id
        # The shell is told to end shortly; our side of the terminal is gone before then.
        terminal.type("sleep 0.5; exit 6\r")
        terminal.expect(b"exit 6\r\n")
        os.close(terminal.fd)
        terminal.fd = os.open("/dev/null", os.O_RDONLY)  # closed again on the way out
        assert terminal.exit_code() == 6
    assert [c.id for c in runtime.list(all=True) if c.id == container_id] == []
    assert leftovers(container_id) == []
