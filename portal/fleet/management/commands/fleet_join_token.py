"""Prints a new host join token; with --local-state, only when the agent there has not joined yet.

`make run` and docker compose use the second form to join the local agent by themselves:
    python manage.py fleet_join_token --local-state var/agent --output var/agent/join-token
writes nothing (the agent takes it with --token-file, never on its command line) when var/agent already holds the credential of a host the portal knows, and
forgets a credential the portal no longer knows (a reset database) before making a new token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandParser

from portal.fleet import services
from portal.fleet.models import Host
from portal.rbac.principals import Principal
from runtime_agent.agent import credential as credentials


class LocalAdministrator(Principal):
    """Whoever runs manage.py on the portal's machine: the operator, with every permission."""

    kind: ClassVar[str] = "system"
    is_system_admin = True

    def __init__(self) -> None:
        self.name = "manage.py"


class Command(BaseCommand):
    help = "Create a join token for a host and print it (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--description", default="")
        parser.add_argument("--hours", type=int, default=1, help="lifetime (default 1 hour)")
        parser.add_argument("--uses", type=int, default=1, help="hosts that may join with it (0: any number)")
        parser.add_argument("--label", action="append", default=[], help="k=v given to hosts joining with it")
        parser.add_argument("--local-state", type=Path, help="an agent state dir: no token if it has joined")
        parser.add_argument("--output", type=Path, help="write the token to this file (0600) instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        state: Path | None = options["local_state"]
        if state is not None:
            existing = credentials.load(state)
            if existing is not None and Host.objects.filter(pk=existing.host_id).exists():
                return
            if existing is not None:
                credentials.forget(state)
        labels = dict(item.partition("=")[::2] for item in options["label"])
        _, secret = services.create_join_token(
            LocalAdministrator(), description=options["description"] or ("local agent" if state else ""),
            expires_in_hours=options["hours"], max_uses=options["uses"] or None, labels=labels,
        )  # fmt: skip
        output: Path | None = options["output"]
        if output is None:
            self.stdout.write(secret)
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        output.unlink(missing_ok=True)
        output.touch(mode=0o600)
        output.write_text(secret)
