"""Pulls with a bearer token the portal issued beforehand, so the agent never holds a user's credentials.

The portal hands the agent a short-lived, pull-only token for exactly one repository;
`ImageStore.pull(token=…)` presents it as it is and fails on a 401 instead of asking for another.
"""

from __future__ import annotations

from runtime_agent.images import Image, ImageReference, ImageStore, parse_reference
from runtime_agent.images.errors import InvalidReference
from runtime_agent.images.image import ProgressCallback


def pull_with_token(
    store: ImageStore,
    reference: str,
    token: str | None,
    *,
    progress: ProgressCallback | None = None,
    insecure: bool = False,
) -> Image:
    """`store.pull(reference)`, authenticated by `token` when one is given."""
    # The store would import an `oci:PATH` layout and ignore the token; a request that carries
    # one names a registry image, so anything else is refused rather than read from the disk.
    if token is not None and not isinstance(parse_reference(reference), ImageReference):
        raise InvalidReference(f"{reference}: a token only makes sense for a registry reference")
    return store.pull(reference, progress=progress, insecure=insecure, token=token)
