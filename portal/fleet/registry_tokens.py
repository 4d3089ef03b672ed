"""Short-lived pull-only registry tokens for exactly one repository, handed to an agent per deployment.

Signed with the registry proxy's own keys, so `/v2/` verifies them like any token it issued; the
access claim names one repository with `pull` and nothing else.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import ClassVar

from django.conf import settings

from portal.rbac.principals import Principal, ProjectLike, Resource
from portal.rbac.roles import Action, ProjectResource
from portal.registry.tokens import KeyRing, Scope, issue


class FleetPuller(Principal):
    """Berth's fleet pulling one repository for an agent: `can` says yes to that pull only."""

    kind: ClassVar[str] = "system"

    def __init__(self, repository: str) -> None:
        self.name = "berth-fleet"
        self.project_name = repository.split("/", 1)[0]

    def can(self, action: Action | str, resource: Resource) -> bool:
        project: ProjectLike | None = resource.project
        return (
            project is not None
            and project.name == self.project_name
            and resource.kind == ProjectResource.REPOSITORY
            and Action(action) is Action.PULL
        )


@cache
def _keys(directory: str) -> KeyRing:
    # One ring per process: it reloads by itself when the key directory changes (rotation).
    return KeyRing(Path(directory))


def issue_pull_token(repository: str) -> str:
    """A token granting `repository:<repository>:pull` and nothing else, valid for a few minutes."""
    token, _, _ = issue(_keys(str(settings.REGISTRY_KEY_DIR)), FleetPuller(repository),
                        [Scope("repository", repository, ("pull",))], settings.FLEET_PULL_TOKEN_SECONDS)
    return token
