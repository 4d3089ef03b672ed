"""Tags and digests in a path or query, checked by the handlers that take one (one route serves both kinds)."""

from __future__ import annotations

import re

from registry_proxy import errors
from registry_proxy.errors import RegistryError

TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")
SHA512 = re.compile(r"^sha512:[a-f0-9]{128}$")


def valid_reference(reference: str) -> str:
    if ":" in reference:
        return valid_digest(reference)
    if not TAG.match(reference):
        raise RegistryError(400, "TAG_INVALID", f"invalid tag {reference[:200]!r}")
    return reference


def valid_digest(digest: str) -> str:
    if not DIGEST.match(digest):
        raise errors.digest_invalid(f"invalid digest {digest[:200]!r}")
    algorithm = digest.split(":", 1)[0]
    if algorithm == "sha256" and not SHA256.match(digest) or algorithm == "sha512" and not SHA512.match(digest):
        raise errors.digest_invalid(f"invalid {algorithm} digest {digest[:200]!r}")
    if algorithm not in ("sha256", "sha512"):
        raise errors.unsupported(f"unsupported digest algorithm {algorithm!r}", status=400)
    return digest


def readable_reference(reference: str) -> str:
    """A reference to read a manifest by: the spec's pull expects a missing manifest to be 404, whatever its name."""
    try:
        return valid_reference(reference)
    except RegistryError:
        raise errors.manifest_unknown(
            f"manifest unknown: {reference[:200]!r} is neither a valid tag nor a valid digest") from None
