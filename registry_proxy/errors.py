"""The one place `/v2/` refusals become HTTP: OCI error codes, statuses and the JSON body clients parse."""

from __future__ import annotations

import json
from typing import Any


class RegistryError(Exception):
    """A refusal in the OCI distribution error format: `{"errors": [{"code", "message", "detail"}]}`."""

    def __init__(self, status: int, code: str, message: str, detail: Any = None,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail
        self.headers = headers or []

    def body(self) -> bytes:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return json.dumps({"errors": [error]}).encode()


def unauthorized(message: str, challenge: str) -> RegistryError:
    return RegistryError(401, "UNAUTHORIZED", message, headers=[(b"www-authenticate", challenge.encode())])


def denied(message: str) -> RegistryError:
    return RegistryError(403, "DENIED", message)


def name_invalid(message: str) -> RegistryError:
    return RegistryError(400, "NAME_INVALID", message)


def name_unknown(message: str) -> RegistryError:
    return RegistryError(404, "NAME_UNKNOWN", message)


def manifest_unknown(message: str) -> RegistryError:
    return RegistryError(404, "MANIFEST_UNKNOWN", message)


def blob_unknown(message: str) -> RegistryError:
    return RegistryError(404, "BLOB_UNKNOWN", message)


def manifest_invalid(message: str) -> RegistryError:
    return RegistryError(400, "MANIFEST_INVALID", message)


def digest_invalid(message: str) -> RegistryError:
    return RegistryError(400, "DIGEST_INVALID", message)


def size_invalid(message: str) -> RegistryError:
    return RegistryError(400, "SIZE_INVALID", message)


def unsupported(message: str, status: int = 405) -> RegistryError:
    return RegistryError(status, "UNSUPPORTED", message)


def invalid_request(message: str) -> RegistryError:
    # Not an OCI code, but distribution's own for malformed query parameters.
    return RegistryError(400, "PAGINATION_NUMBER_INVALID", message)


def range_outside(size: int) -> RegistryError:
    """A blob range past its end (RFC 9110's 416, with the size the client may ask within)."""
    return RegistryError(416, "RANGE_INVALID", f"the requested range is outside the blob's {size} bytes",
                         headers=[(b"content-range", f"bytes */{size}".encode())])


def upload_range_invalid(message: str, headers: list[tuple[bytes, bytes]]) -> RegistryError:
    """A chunk that does not continue the upload where it stands; `headers` say where that is."""
    return RegistryError(416, "RANGE_INVALID", message, headers=headers)


def upload_invalid(message: str) -> RegistryError:
    return RegistryError(400, "BLOB_UPLOAD_INVALID", message)


def upload_unknown(message: str) -> RegistryError:
    return RegistryError(404, "BLOB_UPLOAD_UNKNOWN", message)


def unavailable(message: str) -> RegistryError:
    return RegistryError(503, "UNAVAILABLE", message)


def refused(message: str, reason: str) -> RegistryError:
    """A write the API refuses with 409 (it would break an index, or a running container): the same status,
    message and stable code, as a `DENIED` clients print."""
    return RegistryError(409, "DENIED", message, detail={"reason": reason})


def too_many_requests(message: str) -> RegistryError:
    return RegistryError(429, "TOOMANYREQUESTS", message)
