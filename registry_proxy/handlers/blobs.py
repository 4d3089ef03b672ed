"""`/v2/<name>/blobs/<digest>`: blobs sent straight from distribution's disk with sendfile when they can be."""

from __future__ import annotations

import os
from pathlib import Path

from registry_proxy.checks.valid_reference import valid_digest
from registry_proxy.plumbing import API_VERSION, Context, Send
from registry_proxy.proxy import Proxy


async def blob_get(app: Proxy, context: Context, send: Send) -> None:
    digest = valid_digest(context.params["digest"])
    request = context.request
    data_dir = app.config.data_dir
    zero_copy = "http.response.zerocopysend" in request.scope.get("extensions", {})
    from_disk = data_dir is not None and zero_copy and "range" not in request.headers and digest.startswith("sha256:")
    if from_disk and await send_blob_from_disk(data_dir, context.name, digest, request.method, send):  # type: ignore[arg-type]
        return
    await app.proxy(context, send)


async def send_blob_from_disk(data_dir: Path, repository: str, digest: str, method: str, send: Send) -> bool:
    """Sends a blob straight from distribution's filesystem storage, if this repository links it.
    The name is validated against the OCI grammar and the digest is hex, so neither can leave the root."""
    hex_digest = digest.split(":", 1)[1]
    root = data_dir / "docker" / "registry" / "v2"
    link = root / "repositories" / repository / "_layers" / "sha256" / hex_digest / "link"
    blob = root / "blobs" / "sha256" / hex_digest[:2] / hex_digest / "data"
    try:
        if not link.is_file():
            return False
        handle = open(blob, "rb")  # noqa: SIM115 - closed below, after sendfile
    except OSError:
        return False
    try:
        size = os.fstat(handle.fileno()).st_size
        await send({"type": "http.response.start", "status": 200, "headers": [
            API_VERSION, (b"content-type", b"application/octet-stream"),
            (b"content-length", str(size).encode()), (b"docker-content-digest", digest.encode()),
            (b"etag", f'"{digest}"'.encode()), (b"accept-ranges", b"bytes"),
            (b"cache-control", b"max-age=31536000"),
        ]})
        if method == "HEAD" or size == 0:
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.zerocopysend", "file": handle, "offset": 0, "count": size})
    finally:
        handle.close()
    return True
