"""`python -m runtime_agent serve` and `join`: the agent daemon and its registration."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from runtime_agent.runtime.settings import Settings

TOKEN_VARIABLE = "BERTH_JOIN_TOKEN"


def _labels(values: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        for item in filter(None, value.split(",")):
            key, sep, val = item.partition("=")
            if not sep or not key:
                raise SystemExit(f"berth-agent: labels are key=value, not {item!r}")
            labels[key.strip()] = val.strip()
    return labels


def add_agent_commands(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the agent daemon: the runtime over signed HTTP")
    serve.add_argument("--listen", default="127.0.0.1:7070", help="HOST:PORT to listen on")
    serve.add_argument("--state", dest="agent_state", help="state directory")
    serve.add_argument("--bridge", help="bridge network device (default $BERTH_BRIDGE or berth0)")
    serve.add_argument("--subnet", help="bridge subnet (default $BERTH_SUBNET or 10.213.0.0/24)")
    serve.add_argument(
        "--join",
        metavar="PORTAL_URL",
        help="join this portal first unless already joined (retried until it answers)",
    )
    _join_options(serve)
    join = sub.add_parser("join", help="register this host with a Berth portal using a join token")
    join.add_argument("portal_url")
    join.add_argument("--state", dest="agent_state", help="state directory")
    join.add_argument("--force", action="store_true", help="join again even if already joined")
    _join_options(join)


def _join_options(parser: argparse.ArgumentParser) -> None:
    # Never an argument: a command line is readable by every local user (ps, /proc/<pid>/cmdline).
    parser.add_argument(
        "--token-file",
        type=Path,
        help=f"file holding the join token (default: ${TOKEN_VARIABLE})",
    )
    parser.add_argument("--name", help="host name shown in the portal (default: the hostname)")
    parser.add_argument("--labels", "--label", action="append", default=[], help="k=v[,k=v]")
    parser.add_argument(
        "--advertise", help="URL the portal reaches this agent at (default from --listen)"
    )


def _state(args: argparse.Namespace) -> Path:
    return Path(args.agent_state or args.state or Settings.from_env().state_dir)


def _advertise(args: argparse.Namespace) -> str:
    return args.advertise or f"http://{getattr(args, 'listen', None) or '127.0.0.1:7070'}"


def _token_file(path: Path) -> str:
    token = path.read_text().strip()
    if not token:
        raise FileNotFoundError(f"{path} holds no join token yet")
    return token


def _join_token(args: argparse.Namespace) -> str:
    """The token from --token-file, or the environment; FileNotFoundError while the file is not written yet."""
    if args.token_file is not None:
        return _token_file(args.token_file)
    # Taken out of the environment, which the runtime's helper processes would inherit.
    token = os.environ.pop(TOKEN_VARIABLE, "").strip()
    if not token:
        raise SystemExit(f"berth-agent: give the join token with --token-file PATH or ${TOKEN_VARIABLE}")
    return token


def cmd_join(args: argparse.Namespace) -> int:
    from runtime_agent.agent import credential as credentials
    from runtime_agent.agent.facts import host_facts
    from runtime_agent.agent.portal import JoinFailed, join

    state = _state(args)
    existing = credentials.load(state)
    if existing is not None and not args.force:
        print(
            f"already joined to {existing.portal_url} as {existing.name} (use --force to join again)"
        )
        return 0
    state.mkdir(parents=True, exist_ok=True)
    try:
        credential = join(
            state, args.portal_url, _join_token(args), name=args.name or socket.gethostname(),
            labels=_labels(args.labels), advertise=_advertise(args), facts=host_facts(state, 0, 0),
        )  # fmt: skip
    except (JoinFailed, FileNotFoundError) as exc:
        print(f"berth-agent: {exc}", file=sys.stderr)
        return 1
    print(f"joined {credential.portal_url} as host {credential.name} ({credential.host_id})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from runtime_agent.agent import credential as credentials
    from runtime_agent.agent.portal import Heartbeat, JoinFailed, join
    from runtime_agent.agent.server import Agent, AgentServer, container_summary, parse_listen
    from runtime_agent.images import ImageStore
    from runtime_agent.runtime.api import Runtime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log = logging.getLogger("berth.agent")
    state = _state(args)
    state.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(state, images=ImageStore(state), bridge=args.bridge, subnet=args.subnet)
    restarted = runtime.recover()
    if restarted:
        log.info(
            "restarted %d container(s) whose supervisor died while the agent was down",
            len(restarted),
        )
    agent = Agent(runtime)
    server = AgentServer(parse_listen(args.listen), agent)

    def report() -> dict[str, Any]:
        # When the report was taken: the portal ignores it for records changed since.
        return {
            "reported_at": time.time(),
            "facts": agent.facts(),
            "containers": [container_summary(c) for c in runtime.list(all=True)],
        }

    heartbeat = Heartbeat(state, report)
    stopping = threading.Event()
    # From the environment the token is read now, so a missing one fails the start; a file may come later.
    must_join = bool(args.join) and credentials.load(state) is None
    token = _join_token(args) if must_join and args.token_file is None else ""

    def join_when_portal_answers() -> None:
        while not stopping.is_set() and credentials.load(state) is None:
            try:
                # compose: the portal's init writes the token into a volume both containers share,
                # perhaps after this agent starts.
                credential = join(
                    state, args.join, token or _join_token(args), name=args.name or socket.gethostname(),
                    labels=_labels(args.labels), advertise=_advertise(args), facts=agent.facts(),
                )  # fmt: skip
                log.info("joined %s as host %s", credential.portal_url, credential.name)
            except (JoinFailed, FileNotFoundError) as exc:
                log.warning("%s; retrying", exc)
                stopping.wait(2)

    if must_join:
        threading.Thread(target=join_when_portal_answers, name="join", daemon=True).start()
    heartbeat.start()

    def shut_down(signum: int, _frame: object) -> None:
        stopping.set()
        heartbeat.stop()
        # shutdown() waits for serve_forever to return, which runs in this very thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    log.info("agent listening on %s (state %s)", args.listen, state)
    started = time.monotonic()
    server.serve_forever(poll_interval=0.2)
    if not server.drain(30):
        log.warning(
            "stopping with requests still running: a container may be half created or removed"
        )
    server.server_close()
    log.info("agent stopped after %.0f s; containers keep running", time.monotonic() - started)
    return 0


AGENT_COMMANDS = {"serve": cmd_serve, "join": cmd_join}


def main(argv: list[str] | None = None) -> int:
    """`python -m runtime_agent.agent …`: the agent's commands alone (the runtime CLI has them too)."""
    parser = argparse.ArgumentParser(prog="berth-agent")
    parser.add_argument("--state", help=argparse.SUPPRESS)
    add_agent_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return AGENT_COMMANDS[args.command](args)
