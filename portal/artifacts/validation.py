"""What a manifest must be before Berth lets distribution store it: pure checks, no database, no network.

distribution 2.8 stores some manifests Berth cannot index (a negative size, a `subject` that is a string) and
answers others with a 500 that names a storage path (no `schemaVersion`, a malformed digest, `null`). Both are
refused here first, so a push is either stored and indexed or refused with the client's error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any
from urllib.parse import urlsplit

from portal.artifacts.manifests import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    DOCKER_SCHEMA1,
    INDEX_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    InvalidManifest,
    parse_manifest,
)

MANIFEST_TYPES = frozenset({OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST})
# RFC 6838's restricted-name, as the image spec asks of every mediaType and artifactType.
MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")
DIGEST_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_HEX = {"sha256": re.compile(r"^[a-f0-9]{64}$"), "sha512": re.compile(r"^[a-f0-9]{128}$")}
# Go's int64, which distribution decodes sizes into (and PostgreSQL's bigint, which Berth stores them in).
MAX_SIZE = 2**63 - 1


class InvalidDigest(InvalidManifest):
    """A descriptor's digest is malformed or of an algorithm Berth does not verify."""


def validate_manifest(body: bytes, content_type: str, allowed_urls: re.Pattern[str]) -> None:
    """Raises InvalidManifest (InvalidDigest for a bad digest) unless distribution may store `body` and Berth
    can index it; `content_type` is the request's, `allowed_urls` what descriptors' `urls` must match."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidManifest(f"the manifest is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidManifest(f"the manifest is not a JSON object but {_json_kind(document)}")
    version = document.get("schemaVersion", _ABSENT)
    if version is _ABSENT:
        raise InvalidManifest("the manifest has no schemaVersion (it must be 2)")
    if version == 1 and not isinstance(version, bool):
        raise InvalidManifest("Docker schema 1 manifests are not accepted: push schema 2 or OCI")
    if version != 2 or isinstance(version, bool) or not isinstance(version, int):
        raise InvalidManifest(f"schemaVersion must be 2, not {_shown(version)}")
    media_type = _media_type(document, content_type)
    if "subject" in document:
        _descriptor(document["subject"], "subject", allowed_urls)
    if "artifactType" in document:
        _media_type_field(document["artifactType"], "artifactType")
    _annotations(document, "the manifest")
    if media_type in INDEX_TYPES:
        if "config" in document or "layers" in document:
            raise InvalidManifest(f"an index ({media_type}) has no config or layers")
        _descriptors(document, "manifests", allowed_urls, required=True)
    else:
        if "manifests" in document:
            raise InvalidManifest(f"an image manifest ({media_type}) has no manifests; push it as an index")
        if "config" not in document:
            raise InvalidManifest("the manifest has no config descriptor")
        _descriptor(document["config"], "config", allowed_urls)
        _descriptors(document, "layers", allowed_urls, required=False)
    # Whatever else the index needs of a manifest: what passes here is indexed after distribution's 201.
    parse_manifest(body, media_type)


_ABSENT = object()


def _media_type(document: dict[str, Any], content_type: str) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise InvalidManifest(f"mediaType must be a string, not {_shown(declared)}")
    sent = content_type.split(";", 1)[0].strip()
    if declared and sent and declared != sent:
        raise InvalidManifest(f"the manifest's mediaType {declared[:200]!r} is not its Content-Type {sent[:200]!r}")
    media_type = sent or declared or ""
    if not media_type:
        raise InvalidManifest("the manifest has no media type: send it as the Content-Type and mediaType")
    if media_type in DOCKER_SCHEMA1:
        raise InvalidManifest("Docker schema 1 manifests are not accepted: push schema 2 or OCI")
    if media_type not in MANIFEST_TYPES:
        raise InvalidManifest(f"{media_type[:200]!r} is not a manifest media type; one of "
                              + ", ".join(sorted(MANIFEST_TYPES)))
    return media_type


def _descriptors(document: dict[str, Any], field: str, allowed_urls: re.Pattern[str], *, required: bool) -> None:
    if field not in document:
        if required:
            raise InvalidManifest(f"the manifest has no {field} list")
        return
    items = document[field]
    if not isinstance(items, list):
        raise InvalidManifest(f"{field} must be a list of descriptors, not {_json_kind(items)}")
    for position, item in enumerate(items):
        _descriptor(item, f"{field}[{position}]", allowed_urls)


def _descriptor(raw: Any, where: str, allowed_urls: re.Pattern[str]) -> None:
    if not isinstance(raw, dict):
        raise InvalidManifest(f"{where} must be a descriptor object, not {_json_kind(raw)}")
    for required in ("mediaType", "digest", "size"):
        if required not in raw:
            raise InvalidManifest(f"{where} has no {required}")
    _media_type_field(raw["mediaType"], f"{where}.mediaType")
    digest = raw["digest"]
    if not isinstance(digest, str):
        raise InvalidDigest(f"{where}.digest must be a string, not {_shown(digest)}")
    _digest(digest, where)
    size = raw["size"]
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SIZE:
        raise InvalidManifest(f"{where}.size must be an integer from 0 to {MAX_SIZE}, not {_shown(size)}")
    if "artifactType" in raw:
        _media_type_field(raw["artifactType"], f"{where}.artifactType")
    if "urls" in raw:
        _urls(raw["urls"], where, allowed_urls)
    if "data" in raw:
        _data(raw["data"], digest, size, where)
    if "platform" in raw and not isinstance(raw["platform"], dict):
        raise InvalidManifest(f"{where}.platform must be an object, not {_json_kind(raw['platform'])}")
    _annotations(raw, where)


def _digest(digest: str, where: str) -> None:
    if not DIGEST_GRAMMAR.match(digest):
        raise InvalidDigest(f"{where}.digest {digest[:200]!r} is not a digest")
    algorithm, _, encoded = digest.partition(":")
    pattern = _HEX.get(algorithm)
    if pattern is None:
        raise InvalidDigest(f"{where}.digest uses {algorithm[:50]!r}; Berth accepts sha256 and sha512")
    if not pattern.match(encoded):
        raise InvalidDigest(f"{where}.digest {digest[:200]!r} is not a valid {algorithm} digest")


def _urls(urls: Any, where: str, allowed_urls: re.Pattern[str]) -> None:
    if not isinstance(urls, list) or not urls:
        raise InvalidManifest(f"{where}.urls must be a non-empty list of URLs")
    for position, url in enumerate(urls):
        if not isinstance(url, str):
            raise InvalidManifest(f"{where}.urls[{position}] must be a string, not {_json_kind(url)}")
        parts = urlsplit(url)
        # distribution itself takes only absolute http(s) URLs without a fragment, whatever it is told to allow.
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment or not allowed_urls.search(url):
            raise InvalidManifest(f"{where}.urls[{position}] {url[:200]!r} is not an allowed URL "
                                  f"(allowed: {allowed_urls.pattern!r}, http or https, no fragment)")


def _data(data: Any, digest: str, size: int, where: str) -> None:
    if not isinstance(data, str):
        raise InvalidManifest(f"{where}.data must be a base64 string, not {_json_kind(data)}")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidManifest(f"{where}.data is not base64") from None
    algorithm = digest.split(":", 1)[0]
    if len(content) != size or f"{algorithm}:{hashlib.new(algorithm, content).hexdigest()}" != digest:
        raise InvalidManifest(f"{where}.data does not match the descriptor's digest and size")


def _media_type_field(value: Any, where: str) -> None:
    if not isinstance(value, str) or not MEDIA_TYPE.match(value):
        raise InvalidManifest(f"{where} must be a media type such as 'application/octet-stream', not {_shown(value)}")


def _annotations(document: dict[str, Any], where: str) -> None:
    annotations = document.get("annotations")
    if annotations is None:
        return
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        raise InvalidManifest(f"the annotations of {where} must map strings to strings")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _shown(value: Any) -> str:
    return "null" if value is None else repr(value)[:100]
