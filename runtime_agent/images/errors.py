"""The image store's exception hierarchy, each with a stable error code."""

from __future__ import annotations


class ImageError(Exception):
    """Base of every error raised by the image store and the registry client."""

    code = "image_error"


class InvalidReference(ImageError):
    code = "invalid_reference"


class ImageNotFound(ImageError):
    code = "image_not_found"


class AmbiguousReference(ImageError):
    code = "ambiguous_reference"


class ImageInUse(ImageError):
    code = "image_in_use"


class LayerInUse(ImageError):
    code = "layer_in_use"


class InvalidLayout(ImageError):
    code = "invalid_layout"


class UnsupportedImage(ImageError):
    """A manifest or layer kind the store cannot run (schema 1, foreign layers, no platform)."""

    code = "unsupported_image"


class PlatformNotFound(UnsupportedImage):
    code = "platform_not_found"


class DigestMismatch(ImageError):
    code = "digest_mismatch"


class UnsafeLayer(ImageError):
    """A layer tar tried to write outside its layer or to create what we refuse to create."""

    code = "unsafe_layer"


class RegistryError(ImageError):
    code = "registry_error"


class AuthenticationFailed(RegistryError):
    code = "unauthorized"


class ManifestUnknown(RegistryError, ImageNotFound):
    code = "manifest_unknown"
