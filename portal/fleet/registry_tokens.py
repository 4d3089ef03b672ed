"""Short-lived pull-only registry tokens for exactly one repository, handed to an agent per deployment."""

from __future__ import annotations

from django.conf import settings


def issue_pull_token(repository: str) -> str:
    """A token granting `repository:<repository>:pull` and nothing else, valid for a few minutes."""
    from registry_proxy.tokens import issue_token  # type: ignore[import-not-found]

    return str(issue_token(subject="berth-fleet", access=[("repository", repository, ["pull"])],
                           lifetime=settings.FLEET_PULL_TOKEN_SECONDS))
