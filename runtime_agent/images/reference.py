"""Parses image references: `oci:PATH[:TAG]` layouts, `HOST[:PORT]/REPO[:TAG|@DIGEST]` registries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidReference

DEFAULT_TAG = "latest"

# The grammar of distribution's reference package, reduced to what a runtime needs.
_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]{1,5})?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
HOST_RE = re.compile(rf"^{_HOST}$")
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


def check_digest(digest: str) -> str:
    if not DIGEST_RE.match(digest):
        raise InvalidReference(f"invalid digest {digest!r}: expected sha256: and 64 hex digits")
    return digest


def check_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise InvalidReference(
            f"invalid tag {tag!r}: up to 128 letters, digits, '_', '.', '-', not starting with '.' or '-'"
        )
    return tag


@dataclass(frozen=True)
class ImageReference:
    """An image in a registry: `registry/repository` plus a tag, a digest or both."""

    registry: str
    repository: str
    tag: str | None = DEFAULT_TAG
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        if not text or text != text.strip():
            raise InvalidReference(f"invalid reference format: {text!r}")
        remainder, digest = text, None
        if "@" in text:
            remainder, digest = text.split("@", 1)
            check_digest(digest)
        tag = None
        slash = remainder.rfind("/")
        colon = remainder.rfind(":")
        if colon > slash:
            remainder, tag = remainder[:colon], check_tag(remainder[colon + 1 :])
        if "/" not in remainder:
            raise InvalidReference(
                f"reference {text!r} names no registry: use HOST[:PORT]/REPOSITORY[:TAG|@DIGEST] "
                "(for example 127.0.0.1:5000/library/busybox:latest) or oci:PATH[:TAG] for a layout"
            )
        registry, repository = remainder.split("/", 1)
        if not HOST_RE.match(registry) or not (
            "." in registry or ":" in registry or registry == "localhost"
        ):
            raise InvalidReference(
                f"reference {text!r}: {registry!r} is not a registry host; "
                "use HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]"
            )
        if not REPOSITORY_RE.match(repository):
            raise InvalidReference(
                f"invalid repository name {repository!r}: lowercase letters, digits and "
                "separators ('.', '_', '__', '-') in '/'-separated components"
            )
        if tag is None and digest is None:
            tag = DEFAULT_TAG
        return cls(registry=registry, repository=repository, tag=tag, digest=digest)

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def is_loopback(self) -> bool:
        host = self.registry
        host = host[: host.index("]") + 1] if host.startswith("[") else host.split(":", 1)[0]
        return host in _LOOPBACK_HOSTS

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


@dataclass(frozen=True)
class LayoutReference:
    """An image in an OCI image layout directory, optionally chosen by its ref.name tag."""

    path: Path
    tag: str | None = None

    PREFIX = "oci:"

    @classmethod
    def parse(cls, text: str) -> LayoutReference:
        if not text.startswith(cls.PREFIX):
            raise InvalidReference(f"layout reference {text!r} must start with 'oci:'")
        rest = text[len(cls.PREFIX) :]
        path, tag = rest, None
        if ":" in rest:
            head, tail = rest.rsplit(":", 1)
            # A colon inside a directory name is legal; only a valid tag after it splits.
            if "/" not in tail and TAG_RE.match(tail):
                path, tag = head, tail
        if not path:
            raise InvalidReference(
                f"layout reference {text!r} names no directory: use oci:PATH[:TAG]"
            )
        return cls(path=Path(path), tag=tag)

    def __str__(self) -> str:
        return f"oci:{self.path}" + (f":{self.tag}" if self.tag else "")


def parse_reference(text: str) -> ImageReference | LayoutReference:
    """Parse what a user typed on the command line."""
    if text.startswith(LayoutReference.PREFIX):
        return LayoutReference.parse(text)
    return ImageReference.parse(text)


def split_local_name(text: str) -> tuple[str, str | None]:
    """Split a local `name[:tag]` (the name may carry a registry port) into name and tag."""
    slash, colon = text.rfind("/"), text.rfind(":")
    if colon > slash:
        return text[:colon], text[colon + 1 :]
    return text, None
