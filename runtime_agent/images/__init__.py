"""Berth's image store: OCI layouts and registry pulls into shared, safely unpacked layers."""

from .errors import (
    AmbiguousReference,
    AuthenticationFailed,
    DigestMismatch,
    ImageError,
    ImageInUse,
    ImageNotFound,
    InvalidLayout,
    InvalidReference,
    LayerInUse,
    ManifestUnknown,
    PlatformNotFound,
    RegistryError,
    UnsafeLayer,
    UnsupportedImage,
)
from .image import Image, ProgressCallback
from .manifest import Platform
from .reference import ImageReference, LayoutReference, parse_reference
from .store import ImageStore

__all__ = [
    "AmbiguousReference",
    "AuthenticationFailed",
    "DigestMismatch",
    "Image",
    "ImageError",
    "ImageInUse",
    "ImageNotFound",
    "ImageReference",
    "ImageStore",
    "InvalidLayout",
    "InvalidReference",
    "LayerInUse",
    "LayoutReference",
    "ManifestUnknown",
    "Platform",
    "PlatformNotFound",
    "ProgressCallback",
    "RegistryError",
    "UnsafeLayer",
    "UnsupportedImage",
    "parse_reference",
]
