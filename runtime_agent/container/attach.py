"""Attaching to a container's stdin and output (``run -i``/``-t``, ``attach``).

The shim of an interactive container listens on ``attach.sock`` in the container's directory
(root's alone, as the directory is). Both directions carry frames: a type byte, a 4-byte
big-endian length and the payload. The client sends input (``i``), the end of its input
(``c``) and its window size (``w``: rows and columns, two 16-bit numbers); the shim sends
stdout (``o``) and stderr (``e``) and closes the connection when the container's output ends.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import selectors
import signal
import socket
import struct
import sys
import termios
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

SOCKET_NAME = "attach.sock"
HEADER = struct.Struct(">cI")
INPUT, CLOSE_STDIN, WINDOW, STDOUT, STDERR = b"i", b"c", b"w", b"o", b"e"
# What an interactive container writes before anyone attaches (a shell's prompt) is kept for
# the first client: `run -it` attaches just after the start, not before it as Docker does.
REPLAY_LIMIT = 64 * 1024
# A client that reads no output while this much waits for it is dropped, not waited for.
CLIENT_BACKLOG_LIMIT = 1 << 20


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def window_frame(rows: int, columns: int) -> bytes:
    return frame(WINDOW, struct.pack(">HH", rows, columns))


def set_window(terminal_fd: int, rows: int, columns: int) -> None:
    fcntl.ioctl(terminal_fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


class FrameReader:
    """Splits a byte stream into (kind, payload) frames."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> Iterator[tuple[bytes, bytes]]:
        self.buffer += data
        while len(self.buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < HEADER.size + length:
                return
            payload = self.buffer[HEADER.size : HEADER.size + length]
            self.buffer = self.buffer[HEADER.size + length :]
            yield kind, payload


@contextlib.contextmanager
def _in_directory(directory: Path) -> Iterator[str]:
    """A short path to ``directory``: a socket's path is limited to 107 bytes, and a
    container's directory under a state dir may be longer than that on its own."""
    fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def listen(directory: Path) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        (directory / SOCKET_NAME).unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with _in_directory(directory) as short:
        server.bind(f"{short}/{SOCKET_NAME}")
        # Whoever may write to it types into the container: root alone, whatever the umask.
        os.chmod(f"{short}/{SOCKET_NAME}", 0o600)
    server.listen(8)
    server.setblocking(False)
    return server


def connect(directory: Path) -> socket.socket:
    """A connection to the shim of the container in ``directory``; ConnectionRefusedError or
    FileNotFoundError when none listens (not interactive, or not running)."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _in_directory(directory) as short:
            client.connect(f"{short}/{SOCKET_NAME}")
    except OSError:
        client.close()
        raise
    return client


class _Client:
    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.reader = FrameReader()
        self.backlog = b""


class AttachServer:
    """The shim's side: fans the container's output out to attached clients and writes what
    they send to its stdin (a terminal's master, or a pipe's write end)."""

    def __init__(self, directory: Path, stdin_fd: int, terminal: bool) -> None:
        self.path = directory / SOCKET_NAME
        self.server = listen(directory)
        self.stdin_fd = stdin_fd
        self.terminal = terminal
        os.set_blocking(stdin_fd, False)
        self.pending_input = b""
        self.close_stdin_after_input = False
        self.clients: dict[int, _Client] = {}
        self.replay: bytes | None = b""  # None once a client has had it
        self.selector: selectors.BaseSelector | None = None

    def register(self, selector: selectors.BaseSelector) -> None:
        self.selector = selector
        selector.register(self.server, selectors.EVENT_READ, self._accept)

    def _accept(self) -> None:
        try:
            connection, _ = self.server.accept()
        except BlockingIOError:
            return
        connection.setblocking(False)
        client = _Client(connection)
        self.clients[connection.fileno()] = client
        assert self.selector is not None
        self.selector.register(connection, selectors.EVENT_READ, lambda: self._receive(client))
        if self.replay:
            self._send(client, self.replay)
        self.replay = None

    def _receive(self, client: _Client) -> None:
        try:
            data = client.connection.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        for kind, payload in client.reader.feed(data):
            if kind == INPUT and self.stdin_fd >= 0:
                self.pending_input += payload
            elif kind == CLOSE_STDIN and not self.terminal:
                # A terminal ends its input with the EOF character the client types instead.
                self.close_stdin_after_input = True
            elif kind == WINDOW and self.terminal and len(payload) == 4:
                set_window(self.stdin_fd, *struct.unpack(">HH", payload))
        self._flush_input()

    def _flush_input(self) -> None:
        if self.stdin_fd < 0:
            return
        while self.pending_input:
            try:
                written = os.write(self.stdin_fd, self.pending_input)
            except BlockingIOError:
                break
            except OSError as error:
                if error.errno not in (errno.EPIPE, errno.EIO):
                    raise
                self.pending_input = b""  # nobody reads the container's stdin any more
                break
            self.pending_input = self.pending_input[written:]
        assert self.selector is not None
        if self.pending_input:
            # Registered for output too until the container has read what waits.
            if not self.terminal:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.register(self.stdin_fd, selectors.EVENT_WRITE, self._flush_input)
            return
        if not self.terminal:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(self.stdin_fd)
        if self.close_stdin_after_input and not self.terminal:
            os.close(self.stdin_fd)
            self.stdin_fd = -1

    def output(self, data: bytes, stream: str) -> None:
        if self.pending_input and self.terminal:
            self._flush_input()  # the container reads its terminal again, as it writes to it
        if self.replay is not None:
            self.replay = (self.replay + frame(STDOUT if stream == "stdout" else STDERR, data))[
                -REPLAY_LIMIT:
            ]
            return
        for client in list(self.clients.values()):
            self._send(client, frame(STDOUT if stream == "stdout" else STDERR, data))

    def _send(self, client: _Client, data: bytes) -> None:
        client.backlog += data
        try:
            sent = client.connection.send(client.backlog)
            client.backlog = client.backlog[sent:]
        except BlockingIOError:
            pass
        except OSError:
            self._drop(client)
            return
        if len(client.backlog) > CLIENT_BACKLOG_LIMIT:
            self._drop(client)

    def _drop(self, client: _Client) -> None:
        assert self.selector is not None
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(client.connection)
        self.clients.pop(client.connection.fileno(), None)
        client.connection.close()

    def close(self) -> None:
        """At the end of the container's output: what waits goes out, then every client is let go."""
        # A client the kernel accepted but we had not yet: it gets what it came for too (a short
        # run's whole output may be waiting in the replay).
        while True:
            pending = len(self.clients)
            self._accept()
            if len(self.clients) == pending:
                break
        for client in list(self.clients.values()):
            if client.backlog:
                client.connection.setblocking(True)
                client.connection.settimeout(2)
                with contextlib.suppress(OSError):
                    client.connection.sendall(client.backlog)
            with contextlib.suppress(OSError):
                client.connection.shutdown(socket.SHUT_RDWR)
            self._drop(client)
        if self.selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(self.server)
        self.server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self.stdin_fd >= 0:
            if not self.terminal:
                with contextlib.suppress(KeyError, ValueError):
                    assert self.selector is not None
                    self.selector.unregister(self.stdin_fd)
            # A terminal's master is closed by the output side, which reads from the same fd.
            if not self.terminal:
                os.close(self.stdin_fd)
            self.stdin_fd = -1


@contextlib.contextmanager
def _local_terminal(stdin_fd: int | None) -> Iterator[int]:
    """Our terminal in raw mode for the relay's length (-1 yielded without one), and an fd that
    turns readable when it is resized, once at the start too. The size is sent from the relay's
    loop, never from the signal handler: a frame sent there could land inside another."""
    if stdin_fd is None or not os.isatty(stdin_fd):
        yield -1
        return
    saved = termios.tcgetattr(stdin_fd)
    resized_r, resized_w = os.pipe()
    os.set_blocking(resized_w, False)
    previous = signal.signal(signal.SIGWINCH, lambda *_: os.write(resized_w, b"w"))
    try:
        tty.setraw(stdin_fd)
        os.write(resized_w, b"w")  # the size we start with
        yield resized_r
    finally:
        signal.signal(signal.SIGWINCH, previous)
        os.close(resized_r)
        os.close(resized_w)
        with contextlib.suppress(termios.error, OSError):  # a terminal hung up meanwhile
            termios.tcsetattr(stdin_fd, termios.TCSADRAIN, saved)


def _size(resized: int, stdin_fd: int) -> tuple[int, int]:
    os.read(resized, 64)
    columns, rows = os.get_terminal_size(stdin_fd)
    return rows, columns


def relay(
    connection: socket.socket,
    stdin_fd: int | None = 0,
    stdout: Callable[[bytes], None] | None = None,
    stderr: Callable[[bytes], None] | None = None,
) -> None:
    """The client's side, for the CLI: local stdin to the container (``None``: nothing), its
    output to ours, until the shim closes the connection. With a terminal as our stdin and the
    container's, ours is raw meanwhile and the container follows its size."""
    write_out = stdout or _writer(sys.stdout.buffer)
    write_err = stderr or _writer(sys.stderr.buffer)
    reader = FrameReader()
    with _local_terminal(stdin_fd) as resized, selectors.DefaultSelector() as selector:
        if resized >= 0:
            selector.register(resized, selectors.EVENT_READ, "resized")
        selector.register(connection, selectors.EVENT_READ, "container")
        if stdin_fd is not None:
            selector.register(stdin_fd, selectors.EVENT_READ, "stdin")
        while True:
            for key, _ in selector.select():
                if key.data == "resized":
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        connection.sendall(window_frame(*_size(resized, stdin_fd)))  # type: ignore[arg-type]
                    continue
                if key.data == "stdin":
                    data = os.read(stdin_fd, 65536)  # type: ignore[arg-type]
                    try:
                        connection.sendall(frame(INPUT, data) if data else frame(CLOSE_STDIN))
                    except (BrokenPipeError, ConnectionResetError):
                        data = b""  # the container is done: what it wrote last is still to read
                    if not data:
                        selector.unregister(stdin_fd)  # type: ignore[arg-type]
                    continue
                try:
                    data = connection.recv(65536)
                except ConnectionResetError:
                    return
                if not data:
                    return
                for kind, payload in reader.feed(data):
                    (write_err if kind == STDERR else write_out)(payload)


def relay_terminal(master: int, stdin_fd: int | None = 0) -> None:
    """``exec -t``: relay between our terminal (``None``: nothing read from it) and the master of
    a terminal made in the container, raw meanwhile and sized as ours, until its last user is
    gone."""
    write_out = _writer(sys.stdout.buffer)
    with _local_terminal(stdin_fd) as resized, selectors.DefaultSelector() as selector:
        if resized >= 0:
            selector.register(resized, selectors.EVENT_READ, "resized")
        selector.register(master, selectors.EVENT_READ, "container")
        if stdin_fd is not None:
            selector.register(stdin_fd, selectors.EVENT_READ, "stdin")
        while True:
            for key, _ in selector.select():
                if key.data == "resized":
                    set_window(master, *_size(resized, stdin_fd))  # type: ignore[arg-type]
                elif key.data == "stdin":
                    data = os.read(stdin_fd, 65536)  # type: ignore[arg-type]
                    if data:
                        os.write(master, data)
                    else:
                        selector.unregister(stdin_fd)  # type: ignore[arg-type]
                else:
                    try:
                        data = os.read(master, 65536)
                    except OSError as error:
                        if error.errno != errno.EIO:
                            raise
                        data = b""  # every user of the terminal is gone
                    if not data:
                        return
                    write_out(data)


def _writer(stream: object) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        stream.write(data)  # type: ignore[attr-defined]
        stream.flush()  # type: ignore[attr-defined]

    return write
