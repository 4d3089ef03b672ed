"""`/v2/<name>/blobs/uploads/`: upload sessions streamed to distribution, and cross-repository mounts.

Berth keeps each session's offset itself (`registry_proxy.sessions`): chunks that do not continue the upload
are refused with 416 before distribution sees them (it would append them), and clients get one Location per
session that stays valid (distribution's own changes with every chunk and cancels the upload when an older
one comes back). sha512 digests are verified by distribution itself, which re-reads the upload to hash it
when the client names another algorithm than sha256, and links the blob under both digests; Berth records
the alias it answers by afterwards. A mount by sha512 is a copy under that digest (see `_mount_by_copy`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote, urlencode, urlsplit

import aiohttp

from portal.artifacts.services import record_digest_alias
from portal.registry.tokens import MAX_NAME_LENGTH, NAME, Scope
from registry_proxy import errors
from registry_proxy.checks.authenticate import load_basic_principal
from registry_proxy.checks.valid_reference import SHA256, valid_digest
from registry_proxy.plumbing import API_VERSION, CHUNK, Context, Request, Send
from registry_proxy.proxy import Proxy, record_blob
from registry_proxy.sessions import UploadSession

# The spec's form is `<first>-<last>`; `bytes=` and `bytes ` prefixes are what some clients send.
_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d{1,19})-(\d{1,19})$")


async def upload_start(app: Proxy, context: Context, send: Send) -> None:
    request = context.request
    mount, source = request.param("mount"), request.param("from")
    query: str | None = None
    if mount is not None:
        valid_digest(mount)
        canonical = await app.canonical(mount)
        allowed = canonical is not None and await may_mount_from(app, context, source or "")
        if canonical is not None and allowed and canonical != mount and await _mount_by_copy(
                app, context, send, source or "", mount, canonical):
            return
        if not allowed or canonical != mount:
            # The spec's answer to a refused mount: a plain upload session (202), never the source's blob.
            query = _query_without(request, "mount", "from")
    elif request.param("digest") is not None:
        await _single_post(app, context, send, valid_digest(request.param("digest") or ""))
        return
    response = await app.upstream(context, query=query, data=request.body_chunks())
    if response.status == 202 and "docker-upload-uuid" in response.headers:
        uuid = response.headers["docker-upload-uuid"]
        session = UploadSession(uuid, context.name, 0, response.headers.get("location", ""))
        response.release()
        await app.uploads.put(session)
        await _send_position(app, send, 202, session)
        return
    if response.status == 201 and mount is not None and query is None:
        # The blob index learns the mount before the client does, so its manifest finds the row.
        await record_blob(app, context, mount)
    await app.relay(response, send)


async def _mount_by_copy(app: Proxy, context: Context, send: Send, source: str, digest: str, canonical: str,
                         ) -> bool:
    """A mount by sha512, made as an upload of the source's bytes under that digest; False when the source
    cannot give them. distribution 2.8 links a sha512 mount to a blob path that does not exist (its HEAD is
    then a 500), and a mount by the sha256 leaves no sha512 link, without which distribution refuses a
    manifest naming the blob by its sha512. Only sha512 mounts pay this copy."""
    name, no_body = context.name, {"Content-Length": "", "Content-Type": ""}
    present = await app.upstream(context, method="HEAD", path=f"/v2/{name}/blobs/{digest}", query="",
                                 headers=no_body)
    present.release()
    if present.status != 200:
        blob = await app.upstream(context, method="GET", path=f"/v2/{source}/blobs/{canonical}", query="",
                                  headers={**no_body, "Range": ""})
        if blob.status != 200:
            blob.release()
            return False
        try:
            opened = await app.upstream(context, method="POST", path=f"/v2/{name}/blobs/uploads/", query="",
                                        headers=no_body)
            opened.release()
            if opened.status != 202:
                return False
            target = urlsplit(opened.headers.get("location", ""))
            copied = await app.upstream(
                context, method="PUT", path=target.path, query="&".join(
                    q for q in (target.query, urlencode({"digest": digest})) if q),
                data=blob.content.iter_chunked(CHUNK),
                headers={"Content-Length": blob.headers.get("content-length", ""),
                         "Content-Type": "application/octet-stream"})
        finally:
            blob.release()
        copied.release()
        if copied.status != 201:
            return False
        await record_blob(app, context, canonical)
    await send({"type": "http.response.start", "status": 201, "headers": [
        API_VERSION, (b"content-length", b"0"), *_digest_headers(app, name, digest)]})
    await send({"type": "http.response.body", "body": b""})
    return True


def _query_without(request: Request, *names: str) -> str:
    return urlencode({k: v for k, v in request.query.items() if k not in names}, doseq=True)


async def may_mount_from(app: Proxy, context: Context, source: str) -> bool:
    principal = context.principal
    assert principal is not None
    if len(source) > MAX_NAME_LENGTH or not NAME.match(source):
        return False
    if principal.allows("repository", source, "pull"):
        return True
    if not principal.request_scoped:
        return False
    # Basic credentials on /v2/: decide pull on the source as the token service would.
    header = context.request.headers.get("authorization", "")
    source_principal = await app.run_sync(
        load_basic_principal, header, Scope("repository", source, ("pull",)), context.request.client_ip
    )
    return source_principal is not None and source_principal.allows("repository", source, "pull")


async def upload(app: Proxy, context: Context, send: Send) -> None:
    request = context.request
    digest = request.param("digest")
    if request.method == "PUT" and digest is not None:
        valid_digest(digest)
    session = await app.uploads.get(context.params["uuid"])
    if session is None or session.repository != context.name:
        if "_state" in request.query:
            # A Location distribution handed out before Berth kept sessions: distribution still knows it.
            await app.proxy(context, send)
            return
        raise errors.upload_unknown(f"upload {context.params['uuid'][:100]} is not known in {context.name}")
    if request.method == "GET":
        # The offset is Berth's, but whether the upload still exists is distribution's: deleting a repository
        # (or its project) removes its uploads there, and a new owner of the name must not resume them.
        status = await _to_session(app, context, session, "GET")
        status.release()
        if status.status == 404:
            await app.uploads.forget(session.uuid)
            raise errors.upload_unknown(f"upload {session.uuid[:100]} is not known in {context.name}")
        await _send_position(app, send, 204, session)
    elif request.method in ("PATCH", "PUT"):
        if not await app.uploads.claim(session.uuid):
            raise errors.upload_range_invalid("another chunk of this upload is still being received",
                                              _position_headers(app, session))
        try:
            # Read again under the claim: the chunk that held it may have moved the offset.
            session = await app.uploads.get(session.uuid) or session
            if request.method == "PATCH":
                await _patch(app, context, send, session)
            else:
                await _put(app, context, send, session, digest)
        finally:
            await app.uploads.release(session.uuid)
    else:
        response = await _to_session(app, context, session, "DELETE")
        if response.status in (204, 404):
            await app.uploads.forget(session.uuid)
        await app.relay(response, send)


async def _patch(app: Proxy, context: Context, send: Send, session: UploadSession) -> None:
    counter = _Counter(context.request.body_chunks())
    _check_chunk(app, context.request, session)
    # distribution 2.8 answers any other Content-Type with a 500; a chunk is bytes whatever its client calls it.
    response = await _to_session(app, context, session, "PATCH", data=counter.chunks(),
                                 headers={"Content-Type": "application/octet-stream"})
    if response.status != 202:
        if response.status == 404:
            await app.uploads.forget(session.uuid)
        await app.relay(response, send)
        return
    session.offset += counter.size
    session.upstream = response.headers.get("location", session.upstream)
    response.release()
    await app.uploads.put(session)
    await _send_position(app, send, 202, session)


async def _put(app: Proxy, context: Context, send: Send, session: UploadSession, digest: str | None) -> None:
    if digest is None:
        raise errors.digest_invalid("the digest parameter is required to complete an upload")
    request = context.request
    if "content-range" in request.headers:
        _check_chunk(app, request, session)
    counter = _Counter(request.body_chunks())
    response = await _to_session(app, context, session, "PUT", data=counter.chunks(),
                                 query=urlencode({"digest": digest}))
    if response.status in (201, 404):
        await app.uploads.forget(session.uuid)
    await _relay_completion(app, context, send, response, digest, session.offset + counter.size)


async def _single_post(app: Proxy, context: Context, send: Send, digest: str) -> None:
    """The spec's monolithic POST (`?digest=` with the whole blob as body), which distribution 2.8 answers
    with a 202 and drops the body: made as a session and its completing PUT."""
    opened = await app.upstream(context, query="", headers={"Content-Length": "", "Content-Type": ""})
    opened.release()
    if opened.status != 202:
        raise errors.unavailable(f"the registry storage refused to open an upload ({opened.status})")
    target = urlsplit(opened.headers.get("location", ""))
    counter = _Counter(context.request.body_chunks())
    response = await app.upstream(context, method="PUT", path=target.path, data=counter.chunks(),
                                  query="&".join(q for q in (target.query, urlencode({"digest": digest})) if q))
    completed = response.status == 201
    await _relay_completion(app, context, send, response, digest, counter.size)
    if not completed:
        # The client holds no Location to cancel it with: nobody but Berth can.
        cancelled = await app.upstream(context, method="DELETE", path=target.path, query=target.query,
                                       headers={"Content-Length": "", "Content-Type": ""})
        cancelled.release()


async def _relay_completion(app: Proxy, context: Context, send: Send, response: aiohttp.ClientResponse,
                            digest: str, size: int) -> None:
    extra: list[tuple[bytes, bytes]] = []
    canonical = response.headers.get("docker-content-digest", "")
    if response.status == 201:
        if digest != canonical and SHA256.match(canonical):
            await app.run_sync(record_digest_alias, digest, canonical)
            extra = _digest_headers(app, context.name, digest)
        # distribution verified every byte against the digest, so the count streamed is the blob's size.
        await record_blob(app, context, canonical if SHA256.match(canonical) else digest, size)
    await app.relay(response, send, extra)


def _check_chunk(app: Proxy, request: Request, session: UploadSession) -> None:
    """A chunk's Content-Range starts where the upload stands, and its Content-Length says as many bytes."""
    content_range = request.headers.get("content-range")
    if content_range is None:
        return  # a streamed chunk: appended wherever the upload stands
    found = _CONTENT_RANGE.match(content_range.strip())
    if found is None:
        raise errors.upload_range_invalid(f"malformed Content-Range {content_range[:100]!r}: expected <first>-<last>",
                                          _position_headers(app, session))
    first, last = int(found.group(1)), int(found.group(2))
    if first != session.offset or last < first:
        raise errors.upload_range_invalid(
            f"the chunk {first}-{last} does not continue the upload, which holds {session.offset} bytes",
            _position_headers(app, session))
    length = request.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) != last - first + 1:
        raise errors.upload_invalid(f"Content-Length {length!r} does not match Content-Range {first}-{last} "
                                    f"({last - first + 1} bytes)")


async def _to_session(app: Proxy, context: Context, session: UploadSession, method: str, *,
                      data: AsyncIterator[bytes] | None = None, query: str = "",
                      headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    upstream = urlsplit(session.upstream)
    return await app.upstream(context, method=method, path=upstream.path,
                              query="&".join(q for q in (upstream.query, query) if q), data=data, headers=headers)


def _location(app: Proxy, session: UploadSession) -> bytes:
    return f"{app.config.external_url}/v2/{session.repository}/blobs/uploads/{quote(session.uuid)}".encode()


def _position_headers(app: Proxy, session: UploadSession) -> list[tuple[bytes, bytes]]:
    # `0-0` for an empty upload too: distribution's form, which clients expect.
    last = max(session.offset - 1, 0)
    return [(b"location", _location(app, session)), (b"range", f"0-{last}".encode()),
            (b"docker-upload-uuid", session.uuid.encode())]


async def _send_position(app: Proxy, send: Send, status: int, session: UploadSession) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [API_VERSION, (b"content-length", b"0"), *_position_headers(app, session)]})
    await send({"type": "http.response.body", "body": b""})


def _digest_headers(app: Proxy, repository: str, digest: str) -> list[tuple[bytes, bytes]]:
    return [(b"docker-content-digest", digest.encode()),
            (b"location", f"{app.config.external_url}/v2/{repository}/blobs/{digest}".encode())]


class _Counter:
    """Counts a body's bytes on their way upstream: the offset a chunk moves the upload to."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks, self.size = chunks, 0

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self.size += len(chunk)
            yield chunk
