"""Parsing of image references as the CLI and the store accept them."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime_agent.images import ImageReference, InvalidReference, LayoutReference, parse_reference


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("127.0.0.1:5000/proj/app:1.0", "127.0.0.1:5000", "proj/app", "1.0", None),
        ("127.0.0.1:5000/proj/app", "127.0.0.1:5000", "proj/app", "latest", None),
        ("localhost/app", "localhost", "app", "latest", None),
        (
            "registry.example.com/a/b/c:v1.2-rc_3",
            "registry.example.com",
            "a/b/c",
            "v1.2-rc_3",
            None,
        ),
        (
            f"localhost:5000/app@sha256:{'a' * 64}",
            "localhost:5000",
            "app",
            None,
            f"sha256:{'a' * 64}",
        ),
        (f"[::1]:5000/app:t@sha256:{'b' * 64}", "[::1]:5000", "app", "t", f"sha256:{'b' * 64}"),
    ],
)
def test_registry_references_parse(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = ImageReference.parse(text)

    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert ref.reference == (digest or tag)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "busybox",
            "reference 'busybox' names no registry: use HOST[:PORT]/REPOSITORY[:TAG|@DIGEST] "
            "(for example 127.0.0.1:5000/library/busybox:latest) or oci:PATH[:TAG] for a layout",
        ),
        (
            "library/busybox:1",
            "reference 'library/busybox:1': 'library' is not a registry host; "
            "use HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]",
        ),
        (
            "127.0.0.1:5000/Proj/App",
            "invalid repository name 'Proj/App': lowercase letters, digits and separators "
            "('.', '_', '__', '-') in '/'-separated components",
        ),
        (
            "127.0.0.1:5000/app@sha256:abc",
            "invalid digest 'sha256:abc': expected sha256: and 64 hex digits",
        ),
        (
            "127.0.0.1:5000/app:-bad",
            "invalid tag '-bad': up to 128 letters, digits, '_', '.', '-', not starting with '.' or '-'",
        ),
        ("", "invalid reference format: ''"),
    ],
)
def test_bad_registry_references_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        ImageReference.parse(text)

    assert str(caught.value) == message


def test_loopback_registries_are_recognised() -> None:
    assert ImageReference.parse("127.0.0.1:5000/a").is_loopback
    assert ImageReference.parse("localhost/a").is_loopback
    assert not ImageReference.parse("registry.example.com/a").is_loopback


@pytest.mark.parametrize(
    ("text", "path", "tag"),
    [
        ("oci:/tmp/layout", "/tmp/layout", None),
        ("oci:/tmp/layout:1.0", "/tmp/layout", "1.0"),
        ("oci:relative/dir:latest", "relative/dir", "latest"),
        ("oci:/tmp/with:colon/layout", "/tmp/with:colon/layout", None),
    ],
)
def test_layout_references_parse(text: str, path: str, tag: str | None) -> None:
    ref = parse_reference(text)

    assert ref == LayoutReference(Path(path), tag)


def test_layout_reference_without_a_directory_is_refused() -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_reference("oci:")

    assert str(caught.value) == "layout reference 'oci:' names no directory: use oci:PATH[:TAG]"
