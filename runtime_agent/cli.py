"""``python -m runtime_agent``: a docker-like command line over the Runtime API."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from runtime_agent.errors import Conflict, InvalidSpec, RuntimeAgentError, StartFailed

if TYPE_CHECKING:
    from runtime_agent.container.state import Container
    from runtime_agent.runtime.api import Runtime

# Every command is a new interpreter: modules load where a command needs them, so that --help
# and `run` do not pay for the fleet agent, the registry client or the image unpacker.


class _Formatter(argparse.HelpFormatter):
    """argparse makes a formatter for every argument it adds, each asking the terminal for its
    width (three quarters of the parser's build time): asked once here."""

    def __init__(self, prog: str, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("width", _terminal_width())
        super().__init__(prog, *args, **kwargs)


@functools.cache
def _terminal_width() -> int:
    return shutil.get_terminal_size().columns - 2


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def build_parser(agent_commands: bool = True) -> argparse.ArgumentParser:
    """The whole command line; without ``agent_commands`` the fleet agent's are left out."""
    parser = _Parser(prog="berth-agent", description="Berth's container runtime")
    parser.add_argument(
        "--state", help="state directory (default: $BERTH_AGENT_STATE or /var/lib/berth-agent)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pull", help="pull an image from a registry or import oci:PATH[:TAG]")
    p.add_argument("image")
    p.add_argument("-u", "--username")
    p.add_argument("-p", "--password")
    sub.add_parser("images", help="list images")
    rmi = sub.add_parser("rmi", help="remove images (untag one of several tags)")
    rmi.add_argument("-f", "--force", action="store_true", help="untag even an image in use")
    rmi.add_argument("images", nargs="+")
    image = sub.add_parser("image", help="manage images")
    image_sub = image.add_subparsers(dest="image_command", required=True)
    image_sub.add_parser("prune", help="remove untagged unused images and unused layers")
    container = sub.add_parser("container", help="manage containers")
    container_sub = container.add_subparsers(dest="container_command", required=True)
    container_sub.add_parser("prune", help="remove every container that is not running")
    port = sub.add_parser("port", help="list a container's published ports")
    port.add_argument("container")
    port.add_argument("private_port", nargs="?", help="PORT[/PROTO]")
    tag = sub.add_parser("tag", help="give an image another name")
    tag.add_argument("source")
    tag.add_argument("target")
    update = sub.add_parser("update", help="change containers' limits and restart policy")
    update.add_argument("--memory", "-m")
    update.add_argument("--cpus", type=float)
    update.add_argument("--cpu-shares", type=int)
    update.add_argument("--pids-limit", type=int)
    update.add_argument("--restart")
    update.add_argument("containers", nargs="+")
    rename = sub.add_parser("rename", help="rename a container")
    rename.add_argument("container")
    rename.add_argument("new_name")
    diff = sub.add_parser("diff", help="list what a container changed in its image's files")
    diff.add_argument("container")

    run = sub.add_parser("run", help="create and start a container")
    run.add_argument("-d", "--detach", action="store_true")
    create = sub.add_parser("create", help="create a container, not started")
    for command in (run, create):
        command.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
        command.add_argument(
            "-t", "--tty", action="store_true", help="give the container a terminal"
        )
        command.add_argument("-e", "--env", action="append", default=[])
        command.add_argument("--env-file", action="append", default=[])
        command.add_argument(
            "--ulimit", action="append", default=[], help="NAME=SOFT[:HARD], as nofile=1024"
        )
        command.add_argument("-v", "--volume", action="append", default=[])
        command.add_argument("--tmpfs", action="append", default=[])
        command.add_argument(
            "--mount",
            action="append",
            default=[],
            help="type=bind|volume|tmpfs,source=…,target=…[,readonly]",
        )
        command.add_argument(
            "--add-host", action="append", default=[], help="NAME:IP (IP may be host-gateway)"
        )
        command.add_argument("--dns", action="append", default=[])
        command.add_argument("--dns-search", action="append", default=[])
        command.add_argument("-p", "--publish", action="append", default=[])
        command.add_argument("-l", "--label", action="append", default=[])
        command.add_argument("--memory", "-m")
        command.add_argument("--cpus", type=float)
        command.add_argument("--cpu-shares", type=int)
        command.add_argument("--pids-limit", type=int)
        command.add_argument("--network", "--net", default="bridge")
        command.add_argument("--name")
        command.add_argument("--rm", action="store_true")
        command.add_argument("--restart", default="no")
        command.add_argument("--hostname", "-H")
        command.add_argument("--user", "-u")
        command.add_argument("--workdir", "-w")
        command.add_argument("--entrypoint")
        command.add_argument("--init", action="store_true")
        command.add_argument("--read-only", action="store_true")
        command.add_argument("--cap-add", action="append", default=[])
        command.add_argument("--cap-drop", action="append", default=[])
        command.add_argument(
            "--userns",
            default="",
            choices=("host", "auto"),
            help="user namespace: 'auto' gives the container its own, whose root is an "
            "unprivileged host uid/gid range of 65536 ids; 'host' (the default) shares the host's",
        )
        command.add_argument(
            "--health-cmd", help="command (run by /bin/sh) that tells the container is healthy"
        )
        for flag in ("interval", "timeout", "start-period"):
            command.add_argument(f"--health-{flag}", help="a duration, as 30s or 1m30s")
        command.add_argument("--health-retries", type=int)
        command.add_argument(
            "--no-healthcheck", action="store_true", help="ignore the image's health check"
        )
        command.add_argument("image")
        command.add_argument("args", nargs=argparse.REMAINDER)

    ps = sub.add_parser("ps", help="list containers")
    ps.add_argument("-a", "--all", action="store_true")
    ps.add_argument("-q", "--quiet", action="store_true")

    logs = sub.add_parser("logs", help="show a container's output")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-t", "--timestamps", action="store_true")
    logs.add_argument("--tail", type=int)
    for flag in ("since", "until"):
        logs.add_argument(f"--{flag}", help="a timestamp (2026-12-02T10:00:00Z) or an age (10m)")
    logs.add_argument("container")

    cp = sub.add_parser(
        "cp",
        help="copy files between a container and the host: cp CONTAINER:SRC DEST or cp SRC "
        "CONTAINER:DEST ('-' for a tar stream on stdin or stdout)",
    )
    cp.add_argument("source")
    cp.add_argument("destination")
    top = sub.add_parser("top", help="list a container's processes")
    top.add_argument("container")

    ex = sub.add_parser("exec", help="run a command in a running container")
    ex.add_argument("-i", "--interactive", action="store_true", help="pass our stdin on")
    ex.add_argument("-t", "--tty", action="store_true", help="give the command a terminal")
    ex.add_argument("-e", "--env", action="append", default=[])
    ex.add_argument("-u", "--user")
    ex.add_argument("-w", "--workdir")
    ex.add_argument("container")
    ex.add_argument("args", nargs=argparse.REMAINDER)

    for name in ("stop", "restart"):
        c = sub.add_parser(name, help=f"{name} containers")
        c.add_argument("-t", "--time", type=float, default=10.0)
        c.add_argument("containers", nargs="+")
    kill = sub.add_parser("kill", help="send a signal to containers")
    kill.add_argument("-s", "--signal", default="KILL")
    kill.add_argument("containers", nargs="+")
    att = sub.add_parser("attach", help="attach to a running container's input and output")
    att.add_argument("--no-stdin", action="store_true")
    att.add_argument("container")
    start = sub.add_parser("start", help="start containers")
    start.add_argument("-a", "--attach", action="store_true")
    start.add_argument("containers", nargs="+")
    for name, what in (("pause", "freeze every process of"), ("unpause", "thaw")):
        c = sub.add_parser(name, help=f"{what} containers")
        c.add_argument("containers", nargs="+")
    rm = sub.add_parser("rm", help="remove containers")
    rm.add_argument("-f", "--force", action="store_true")
    rm.add_argument("containers", nargs="+")
    ins = sub.add_parser("inspect", help="show containers' details as JSON")
    ins.add_argument("containers", nargs="+")
    wait = sub.add_parser("wait", help="wait for containers to stop and print their exit codes")
    wait.add_argument("containers", nargs="+")
    stats = sub.add_parser("stats", help="resource usage")
    stats.add_argument("--no-stream", action="store_true")
    stats.add_argument("containers", nargs="*")

    vol = sub.add_parser("volume", help="manage volumes")
    vsub = vol.add_subparsers(dest="volume_command", required=True)
    vc = vsub.add_parser("create")
    vc.add_argument("name", nargs="?")
    vc.add_argument("-l", "--label", action="append", default=[])
    vsub.add_parser("ls")
    vi = vsub.add_parser("inspect")
    vi.add_argument("names", nargs="+")
    vr = vsub.add_parser("rm")
    vr.add_argument("-f", "--force", action="store_true")
    vr.add_argument("names", nargs="+")
    if agent_commands:
        # The fleet agent's daemon and registration (runtime_agent/agent/commands.py).
        from runtime_agent.agent.commands import add_agent_commands

        add_agent_commands(sub)
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    """The subcommand, found the way argparse will: the first word that is no option's value."""
    words = iter(argv)
    for word in words:
        if word == "--state":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # The fleet agent's commands (and their imports) are loaded only for themselves and --help.
    args = build_parser(agent_commands=_command_word(argv) not in COMMANDS).parse_args(argv)
    if args.command not in COMMANDS:
        from runtime_agent.agent.commands import AGENT_COMMANDS

        return AGENT_COMMANDS[args.command](args)
    from runtime_agent.runtime.api import Runtime

    runtime = Runtime(args.state, zygote=False)
    try:
        return COMMANDS[args.command](runtime, args)
    except StartFailed as e:
        print(
            f"berth-agent: Error response from daemon: failed to create task for container: {e.message}",
            file=sys.stderr,
        )
        return e.exit_code if e.exit_code in (126, 127) else 125
    except RuntimeAgentError as e:
        print(f"Error response from daemon: {e.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # the image store's errors carry no common base with ours
        if type(e).__module__.startswith("runtime_agent"):
            print(f"Error response from daemon: {e}", file=sys.stderr)
            return 1
        raise


def _image(runtime: Runtime, ref: str) -> Any:
    from runtime_agent.images import ImageNotFound

    if ref.startswith("oci:"):
        return runtime.images.pull(ref)
    try:
        return runtime.images.get(ref)
    except ImageNotFound:
        print(f"Unable to find image '{ref}' locally", file=sys.stderr)
        return runtime.images.pull(ref)


def cmd_pull(runtime: Runtime, args: argparse.Namespace) -> int:
    creds = (args.username, args.password) if args.username else None
    image = runtime.images.pull(args.image, credentials=creds)
    print(f"Digest: {image.digest}\nStatus: Downloaded image for {args.image}")
    return 0


def cmd_images(runtime: Runtime, args: argparse.Namespace) -> int:
    rows = [("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")]
    for image in runtime.images.list():
        for tag in image.repo_tags or ["<none>:<none>"]:
            repo, _, name = tag.rpartition(":")
            rows.append((repo, name, image.short_id, _ago(image.created), _size(image.size)))
    _table(rows)
    return 0


def cmd_rmi(runtime: Runtime, args: argparse.Namespace) -> int:
    failed = 0
    for reference in args.images:
        try:
            for done in runtime.images.remove(reference, force=args.force):
                verb, _, what = done.partition(" ")
                print(f"{verb.capitalize()}: {what}")
        except Exception as e:  # the image store's errors carry no common base with ours
            if not type(e).__module__.startswith("runtime_agent"):
                raise
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = 1
    return failed


def cmd_image(runtime: Runtime, args: argparse.Namespace) -> int:
    freed = runtime.images.prune()  # the one subcommand
    print(f"Total reclaimed space: {_size(freed)}")
    return 0


def cmd_container(runtime: Runtime, args: argparse.Namespace) -> int:
    removed = runtime.prune()  # the one subcommand
    if removed:
        print("Deleted Containers:")
        print("\n".join(removed))
    print(f"Total containers removed: {len(removed)}")
    return 0


def cmd_port(runtime: Runtime, args: argparse.Namespace) -> int:
    container = runtime.get(args.container)
    wanted = None
    if args.private_port:
        number, _, protocol = args.private_port.partition("/")
        wanted = (int(number), protocol or "tcp")
    ports = [p for p in container.spec.ports if wanted in (None, (p.container_port, p.protocol))]
    if wanted and not ports:
        raise RuntimeAgentError(
            f"No public port '{args.private_port}' published for {args.container}"
        )
    for p in ports:
        published = f"{p.host_ip or '0.0.0.0'}:{p.host_port}"
        print(published if wanted else f"{p.container_port}/{p.protocol} -> {published}")
    return 0


def cmd_tag(runtime: Runtime, args: argparse.Namespace) -> int:
    runtime.images.tag(args.source, args.target)
    return 0


def cmd_update(runtime: Runtime, args: argparse.Namespace) -> int:
    from runtime_agent.container.spec import parse_memory, parse_restart
    from runtime_agent.kernel.cgroups import Resources

    resources = Resources(
        memory=parse_memory(args.memory) if args.memory else None,
        cpus=args.cpus,
        cpu_shares=args.cpu_shares,
        pids_limit=args.pids_limit,
    )
    restart = parse_restart(args.restart) if args.restart else None
    return _each(runtime, args.containers, lambda c: runtime.update(c, resources, restart))


def cmd_rename(runtime: Runtime, args: argparse.Namespace) -> int:
    runtime.rename(args.container, args.new_name)
    return 0


def cmd_diff(runtime: Runtime, args: argparse.Namespace) -> int:
    for kind, path in runtime.diff(args.container):
        print(f"{kind} {path}")
    return 0


def cmd_create(runtime: Runtime, args: argparse.Namespace) -> int:
    image, options = _run_options(runtime, args, auto_remove=args.rm)
    print(runtime.create(image, options).id)
    return 0


def cmd_run(runtime: Runtime, args: argparse.Namespace) -> int:
    # Attached, the CLI removes the container itself once it has the exit code.
    image, options = _run_options(runtime, args, auto_remove=args.rm and args.detach)
    container = runtime.create(image, options)
    try:
        runtime.start(container)
    except StartFailed:
        if args.rm:
            runtime.remove(container, force=True)
        raise
    if args.detach:
        print(container.id)
        return 0
    if args.interactive or args.tty:
        return _attach_interactive(runtime, container, args.interactive, remove=args.rm)
    return _attach(runtime, container, remove=args.rm)


def _run_options(runtime: Runtime, args: argparse.Namespace, auto_remove: bool) -> tuple[Any, Any]:
    from runtime_agent.container.spec import (
        HealthOptions,
        RestartPolicy,
        RunOptions,
        parse_duration,
        parse_memory,
        parse_mount,
        parse_port,
        parse_restart,
        parse_tmpfs,
        parse_ulimit,
        parse_volume,
    )
    from runtime_agent.kernel.cgroups import Resources

    image = _image(runtime, args.image)
    options = RunOptions(
        name=args.name,
        command=args.args or None,
        entrypoint=[args.entrypoint] if args.entrypoint is not None else None,
        env=[e for path in args.env_file for e in _env_file(path)] + args.env,
        workdir=args.workdir,
        user=args.user,
        hostname=args.hostname,
        labels=dict(label.partition("=")[::2] for label in args.label),
        mounts=[parse_volume(v) for v in args.volume]
        + [parse_tmpfs(t) for t in args.tmpfs]
        + [parse_mount(m) for m in args.mount],
        extra_hosts=args.add_host,
        dns=args.dns,
        dns_search=args.dns_search,
        ports=[parse_port(p) for p in args.publish],
        network=args.network,
        resources=Resources(
            memory=parse_memory(args.memory) if args.memory else None,
            cpus=args.cpus,
            cpu_shares=args.cpu_shares,
            pids_limit=args.pids_limit,
        ),
        restart=parse_restart(args.restart) if args.restart else RestartPolicy(),
        auto_remove=auto_remove,
        init=args.init,
        read_only=args.read_only,
        cap_add=args.cap_add,
        cap_drop=args.cap_drop,
        userns=args.userns,
        interactive=args.interactive,
        tty=args.tty,
        ulimits=[parse_ulimit(u) for u in args.ulimit],
        health=HealthOptions(
            cmd=args.health_cmd,
            interval=parse_duration(args.health_interval) if args.health_interval else None,
            timeout=parse_duration(args.health_timeout) if args.health_timeout else None,
            retries=args.health_retries,
            start_period=parse_duration(args.health_start_period)
            if args.health_start_period
            else None,
            disabled=args.no_healthcheck,
        ),
    )
    return image, options


def _env_file(path: str) -> list[str]:
    import os
    from pathlib import Path

    from runtime_agent.container.spec import parse_env_file

    try:
        text = Path(path).read_text()
    except OSError as e:
        raise InvalidSpec(f"open {path}: {e.strerror.lower() if e.strerror else e}") from None
    return parse_env_file(text, os.environ)


def _attach_interactive(
    runtime: Runtime, container: Container, with_stdin: bool, remove: bool = False
) -> int:
    """Relay our stdin to the container's and its output to ours through its shim, until its
    output ends; then its exit code. Output it wrote before we were attached comes first."""
    return _attached(
        runtime, container, remove, lambda: _relay_until_done(runtime, container, with_stdin)
    )


def _attached(
    runtime: Runtime, container: Container, remove: bool, relay: Callable[[], None]
) -> int:
    """Run ``relay`` until the container's output ends, then its exit code (removing it first
    with ``remove``), whatever became of our terminal meanwhile."""

    # ^C (or a SIGTERM) reaches us rather than the container without a terminal: passed on, as
    # docker's CLI does with --sig-proxy. A hangup (our terminal closed) too: a shell in the
    # container ends as a local one would.
    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(RuntimeAgentError):
            runtime.kill(container, signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    try:
        relay()
    except OSError:
        pass  # our terminal is gone: what the container writes still goes to its log
    finally:
        code = runtime.wait(container)
        if remove:
            runtime.remove(container, force=True)
    return code


def _print_logs(runtime: Runtime, container: Container, **options: Any) -> None:
    for entry in runtime.logs(container, **options):
        stream = sys.stdout.buffer if entry.stream == "stdout" else sys.stderr.buffer
        stream.write(entry.data)
        stream.flush()


def _relay_until_done(runtime: Runtime, container: Container, with_stdin: bool) -> None:
    from runtime_agent.container import attach

    connection = None
    deadline = time.monotonic() + 10
    while connection is None:
        try:
            connection = attach.connect(container.dir)
        except (FileNotFoundError, ConnectionRefusedError):
            # The shim listens once the process runs; one that is done already has its output
            # in the log alone.
            if not container.state.running or time.monotonic() > deadline:
                break
            time.sleep(0.01)
    if connection is None:
        _print_logs(runtime, container)
    else:
        with connection:
            attach.relay(connection, sys.stdin.fileno() if with_stdin else None)


def cmd_attach(runtime: Runtime, args: argparse.Namespace) -> int:
    container = runtime.get(args.container)
    if not container.state.running:
        raise Conflict("You cannot attach to a stopped container, start it first")
    if container.spec.open_stdin or container.spec.tty:
        with_stdin = container.spec.open_stdin and not args.no_stdin
        return _attach_interactive(runtime, container, with_stdin)
    # Any other container's output is followed from now on, as `docker attach` streams it.
    return _attached(
        runtime, container, False, lambda: _print_logs(runtime, container, follow=True, tail=0)
    )


def _attach(runtime: Runtime, container: Container, remove: bool) -> int:
    return _attached(
        runtime, container, remove, lambda: _print_logs(runtime, container, follow=True)
    )


def cmd_ps(runtime: Runtime, args: argparse.Namespace) -> int:
    containers = runtime.list(all=args.all)
    if args.quiet:
        for c in containers:
            print(c.id[:12])
        return 0
    rows = [("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")]
    for c in containers:
        spec, st = c.spec, c.state
        command = " ".join(spec.args)
        command = f'"{command[:19]}…"' if len(command) > 20 else f'"{command}"'
        rows.append(
            (
                c.id[:12],
                spec.image,
                command,
                _ago(spec.created),
                _status(st),
                ", ".join(map(str, spec.ports)),
                spec.name,
            )
        )
    _table(rows)
    return 0


def _status(st: Any) -> str:
    from runtime_agent.container.state import Status

    if st.status == Status.RUNNING:
        up = f"Up {_duration(st.started_at)}"
        if st.paused:
            return f"{up} (Paused)"
        if st.health_status:
            return (
                f"{up} (health: starting)"
                if st.health_status == "starting"
                else f"{up} ({st.health_status})"
            )
        return up
    if st.status == Status.RESTARTING:
        return f"Restarting ({st.exit_code}) {_duration(st.finished_at)} ago"
    if st.status == Status.EXITED:
        return (
            f"Exited ({st.exit_code}) {_duration(st.finished_at)} ago"
            if st.finished_at
            else "Exited"
        )
    return str(st.status).capitalize()


def cmd_logs(runtime: Runtime, args: argparse.Namespace) -> int:
    since = _instant(args.since) if args.since else None
    until = _instant(args.until) if args.until else None
    for entry in runtime.logs(args.container, follow=args.follow, tail=args.tail):
        when = datetime.fromisoformat(entry.time.replace("Z", "+00:00"))
        if since and when < since:
            continue
        if until and when >= until:
            break  # the log is in time order
        stream = sys.stdout.buffer if entry.stream == "stdout" else sys.stderr.buffer
        if args.timestamps:
            stream.write(entry.time.encode() + b" ")
        stream.write(entry.data)
        stream.flush()
    return 0


def _instant(value: str) -> datetime:
    """``--since``/``--until``: a timestamp, Unix seconds, or an age such as 10m (before now)."""
    from runtime_agent.container.spec import parse_duration

    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(value))
    except InvalidSpec:
        raise InvalidSpec(f"invalid value for since/until: {value!r}") from None


def _container_path(value: str) -> tuple[str, str] | None:
    """``NAME:PATH`` as (NAME, PATH); None for a host path (which may hold a colon too)."""
    name, colon, path = value.partition(":")
    if not colon or not name or value.startswith(("/", ".")):
        return None
    return name, path


def cmd_cp(runtime: Runtime, args: argparse.Namespace) -> int:
    from pathlib import Path

    from runtime_agent.runtime import copy

    source, destination = _container_path(args.source), _container_path(args.destination)
    if (source is None) == (destination is None):
        raise InvalidSpec("copying between containers is not supported" if source else
                          "must specify at least one container source")  # fmt: skip
    if source:
        container = runtime.get(source[0])
        chunks = copy.archive(runtime, container, source[1])
        if args.destination == "-":
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return 0
        target = Path(args.destination)
        # SRC/. copies what the directory holds: into DEST, which is made if need be.
        contents = source[1].endswith("/.") or source[1] == "."
        if target.is_dir() and not contents:
            copy.unpack_on_host(chunks, target)
        elif args.destination.endswith("/"):
            raise InvalidSpec(f"destination directory {args.destination} must exist")
        elif not target.parent.is_dir():
            raise InvalidSpec(f"destination directory {target.parent} must exist")
        else:
            copy.unpack_on_host(chunks, target.parent, rename_to=target.name)
        return 0
    assert destination is not None
    container = runtime.get(destination[0])
    if args.source == "-":
        copy.extract(
            runtime, container, destination[1], iter(lambda: sys.stdin.buffer.read(1 << 16), b"")
        )
        return 0
    local = Path(args.source)
    if not local.exists():
        raise InvalidSpec(f"could not find the file {args.source} on the host")
    inside = destination[1] or "/"
    contents = args.source.endswith("/.")
    if not contents and copy.kind_of(runtime, container, inside) == "directory":
        copy.extract(runtime, container, inside, copy.tar_of(local, local.name))
    else:
        parent, _, name = inside.rstrip("/").rpartition("/")
        copy.extract(runtime, container, parent or "/", copy.tar_of(local, name))
    return 0


def cmd_top(runtime: Runtime, args: argparse.Namespace) -> int:
    rows = [("UID", "PID", "PPID", "STIME", "TIME", "CMD")]
    rows += [
        (p.user, str(p.pid), str(p.ppid), p.started, p.cpu_time, p.command)
        for p in runtime.top(args.container)
    ]
    _table(rows)
    return 0


def cmd_exec(runtime: Runtime, args: argparse.Namespace) -> int:
    if not args.args:
        print('"berth-agent exec" requires at least 2 arguments.', file=sys.stderr)
        return 1
    sys.stdout.flush()
    result = runtime.exec(
        args.container, args.args, env=args.env, user=args.user, workdir=args.workdir,
        capture=False, stdin=args.interactive, tty=args.tty,
    )  # fmt: skip
    return result.exit_code


def _each(runtime: Runtime, names: Sequence[str], action: Any) -> int:
    failed = 0
    for name in names:
        try:
            action(name)
            print(name)
        except RuntimeAgentError as e:
            print(f"Error response from daemon: {e.message}", file=sys.stderr)
            failed = 1
    return failed


def cmd_stop(runtime: Runtime, args: argparse.Namespace) -> int:
    return _each(runtime, args.containers, lambda c: runtime.stop(c, args.time))


def cmd_restart(runtime: Runtime, args: argparse.Namespace) -> int:
    return _each(runtime, args.containers, lambda c: runtime.restart(c, args.time))


def cmd_kill(runtime: Runtime, args: argparse.Namespace) -> int:
    name = args.signal.upper()
    sig = (
        int(name)
        if name.isdigit()
        else signal.Signals[name if name.startswith("SIG") else f"SIG{name}"]
    )
    return _each(runtime, args.containers, lambda c: runtime.kill(c, sig))


def cmd_start(runtime: Runtime, args: argparse.Namespace) -> int:
    if args.attach:
        container = runtime.start(args.containers[0])
        return _attach(runtime, container, remove=False)
    return _each(runtime, args.containers, runtime.start)


def cmd_pause(runtime: Runtime, args: argparse.Namespace) -> int:
    return _each(runtime, args.containers, runtime.pause)


def cmd_unpause(runtime: Runtime, args: argparse.Namespace) -> int:
    return _each(runtime, args.containers, runtime.unpause)


def cmd_rm(runtime: Runtime, args: argparse.Namespace) -> int:
    return _each(runtime, args.containers, lambda c: runtime.remove(c, force=args.force))


def cmd_inspect(runtime: Runtime, args: argparse.Namespace) -> int:
    found, failed = [], 0
    for name in args.containers:
        try:
            found.append(runtime.inspect(name))
        except RuntimeAgentError as e:
            print(f"Error: {e.message}", file=sys.stderr)
            failed = 1
    print(json.dumps(found, indent=4))
    return failed


def cmd_wait(runtime: Runtime, args: argparse.Namespace) -> int:
    for name in args.containers:
        print(runtime.wait(name))
    return 0


def cmd_stats(runtime: Runtime, args: argparse.Namespace) -> int:
    while True:
        names = args.containers or [c.id for c in runtime.list()]
        first = {n: runtime.stats(n) for n in names}
        time.sleep(0.5)
        rows = [("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "PIDS")]
        for name, before in first.items():
            after = runtime.stats(name)
            cpu = (after["cpu_usage_ns"] - before["cpu_usage_ns"]) / (
                (after["read_at"] - before["read_at"]) * 1e9
            )
            limit = _size(after["memory_limit"]) if after["memory_limit"] else "unlimited"
            rows.append(
                (
                    after["id"][:12],
                    after["name"],
                    f"{cpu * 100:.2f}%",
                    f"{_size(after['memory_usage'])} / {limit}",
                    str(after["pids"]),
                )
            )
        _table(rows)
        if args.no_stream:
            return 0


def cmd_volume(runtime: Runtime, args: argparse.Namespace) -> int:
    volumes = runtime.volumes
    match args.volume_command:
        case "create":
            print(volumes.create(args.name, dict(x.partition("=")[::2] for x in args.label)).name)
        case "ls":
            _table([("DRIVER", "VOLUME NAME")] + [("local", v.ref) for v in volumes.list()])
        case "inspect":
            print(json.dumps([volumes.get(n).inspect() for n in args.names], indent=4))
        case "rm":
            return _each(runtime, args.names, lambda n: volumes.remove(n, force=args.force))
    return 0


COMMANDS = {
    "pull": cmd_pull,
    "images": cmd_images,
    "run": cmd_run,
    "ps": cmd_ps,
    "logs": cmd_logs,
    "exec": cmd_exec,
    "stop": cmd_stop,
    "restart": cmd_restart,
    "kill": cmd_kill,
    "start": cmd_start,
    "attach": cmd_attach,
    "pause": cmd_pause,
    "create": cmd_create,
    "rmi": cmd_rmi,
    "image": cmd_image,
    "container": cmd_container,
    "port": cmd_port,
    "rename": cmd_rename,
    "tag": cmd_tag,
    "update": cmd_update,
    "diff": cmd_diff,
    "top": cmd_top,
    "cp": cmd_cp,
    "unpause": cmd_unpause,
    "rm": cmd_rm,
    "inspect": cmd_inspect,
    "wait": cmd_wait,
    "stats": cmd_stats,
    "volume": cmd_volume,
}


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _duration(iso: str) -> str:
    if not iso:
        return ""
    seconds = max(
        0,
        int(
            (datetime.now(UTC) - datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds()
        ),
    )
    # Docker's wording (go-units HumanDuration).
    hours = seconds // 3600
    if seconds < 1:
        return "Less than a second"
    if seconds == 1:
        return "1 second"
    if seconds < 60:
        return f"{seconds} seconds"
    if seconds < 120:
        return "About a minute"
    if seconds < 3600:
        return f"{seconds // 60} minutes"
    if seconds < 7200:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 14:
        return f"{hours // 24} days"
    if hours < 24 * 60:
        return f"{hours // (24 * 7)} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // (24 * 30)} months"
    return f"{hours // (24 * 365)} years"


def _ago(iso: str) -> str:
    return f"{_duration(iso)} ago" if iso else ""


def _size(n: int | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.4g}{unit}"
        value /= 1024
    return f"{value}"


if __name__ == "__main__":
    sys.exit(main())
