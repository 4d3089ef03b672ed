"""`/v2/<name>/blobs/<digest>`: blobs sent straight from distribution's disk with sendfile when they can be,
byte ranges answered as RFC 9110 says on both paths, and sha512 digests answered through their sha256 alias."""

from __future__ import annotations

import os
import re
from pathlib import Path

from registry_proxy import errors
from registry_proxy.checks.valid_reference import valid_digest
from registry_proxy.plumbing import (
    API_VERSION,
    Context,
    Send,
    byte_range,
    is_single_range,
    send_error,
)
from registry_proxy.proxy import Proxy

ZERO_SUFFIX = re.compile(r"^bytes=-0+$")


async def blob_get(app: Proxy, context: Context, send: Send) -> None:
    digest = valid_digest(context.params["digest"])
    request = context.request
    # A sha512 Berth has not verified may still be linked in distribution (pushed around Berth): asked as is.
    stored = await app.canonical(digest) or digest
    data_dir = app.config.data_dir
    zero_copy = "http.response.zerocopysend" in request.scope.get("extensions", {})
    from_disk = data_dir is not None and zero_copy and stored.startswith("sha256:")
    if from_disk and await send_blob_from_disk(data_dir, context.name, digest, stored, request.method,  # type: ignore[arg-type]
                                               request.headers.get("range"), send):
        return
    path = f"/v2/{context.name}/blobs/{stored}"
    if ZERO_SUFFIX.match(request.headers.get("range", "").replace(" ", "")):
        # Go serves the last 0 bytes as a 206 of nothing; RFC 9110 calls that range unsatisfiable.
        head = await app.upstream(context, method="HEAD", path=path, headers={"Range": ""})
        head.release()
        if head.status == 200 and head.headers.get("content-length", "").isdigit():
            raise errors.range_outside(int(head.headers["content-length"]))
    range_header = request.headers.get("range")
    # Several ranges (a multipart answer) or forms Berth does not parse: the whole blob, as from disk.
    ignored = {"Range": ""} if range_header is not None and not is_single_range(range_header) else None
    response = await app.upstream(context, path=path, headers=ignored)
    if response.status == 416:
        # distribution 2.8 declares the whole blob's length on a 416 and sends a short text: clients wait for
        # bytes that never come. The size is in its Content-Range (`bytes */<size>`).
        size = response.headers.get("content-range", "").rpartition("/")[2]
        response.release()
        await send_error(send, errors.range_outside(int(size)) if size.isdigit() else
                         errors.RegistryError(416, "RANGE_INVALID", "the requested range is outside the blob"))
        return
    extra: list[tuple[bytes, bytes]] = []
    if stored != digest and response.status in (200, 206):
        extra = [(b"docker-content-digest", digest.encode()), (b"etag", f'"{digest}"'.encode())]
    await app.relay(response, send, extra, receive=request.receive if request.method == "GET" else None)


async def send_blob_from_disk(data_dir: Path, repository: str, digest: str, stored: str, method: str,
                              range_header: str | None, send: Send) -> bool:
    """Sends a blob straight from distribution's filesystem storage, if this repository links it; `stored`
    is its sha256, `digest` what the client asked by. The name is validated against the OCI grammar and the
    digest is hex, so neither can leave the root."""
    hex_digest = stored.split(":", 1)[1]
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
        chosen = byte_range(range_header, size)
        status, first, count = (200, 0, size) if chosen is None else (206, chosen[0], chosen[1] - chosen[0] + 1)
        headers = [
            API_VERSION, (b"content-type", b"application/octet-stream"),
            (b"content-length", str(count).encode()), (b"docker-content-digest", digest.encode()),
            (b"etag", f'"{digest}"'.encode()), (b"accept-ranges", b"bytes"),
            (b"cache-control", b"max-age=31536000"),
        ]
        if chosen is not None:
            headers.append((b"content-range", f"bytes {chosen[0]}-{chosen[1]}/{size}".encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if method == "HEAD" or count == 0:
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.zerocopysend", "file": handle, "offset": first, "count": count})
    finally:
        handle.close()
    return True


async def blob_delete(app: Proxy, context: Context, send: Send) -> None:
    """A blob deleted by its sha512 loses both of the repository's links: reads by the sha512 go through the
    sha256, which would otherwise still serve it."""
    digest = valid_digest(context.params["digest"])
    canonical = await app.canonical(digest)
    if canonical is None or canonical == digest:
        await app.proxy(context, send)
        return
    by_canonical = await app.upstream(context, path=f"/v2/{context.name}/blobs/{canonical}")
    by_canonical.release()
    response = await app.upstream(context)
    if response.status == 404 and by_canonical.status == 202:
        response.release()
        await send({"type": "http.response.start", "status": 202,
                    "headers": [API_VERSION, (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    await app.relay(response, send)
