"""A pushed manifest's body, checked by the manifest handler before distribution sees it (it reads the body)."""

from __future__ import annotations

import re
from functools import lru_cache

from django.conf import settings

from portal.artifacts.manifests import InvalidManifest
from portal.artifacts.validation import InvalidDigest, validate_manifest
from registry_proxy import errors


def valid_manifest(body: bytes, content_type: str) -> None:
    try:
        validate_manifest(body, content_type, _allowed_urls(settings.REGISTRY_MANIFEST_URLS_ALLOW))
    except InvalidDigest as exc:
        raise errors.digest_invalid(str(exc)) from None
    except InvalidManifest as exc:
        raise errors.manifest_invalid(str(exc)) from None


@lru_cache(maxsize=4)
def _allowed_urls(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
