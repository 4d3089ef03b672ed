"""Upload sessions Berth tracks itself in Redis: which repository, how many bytes, and distribution's current URL.

distribution 2.8 appends every PATCH wherever its Content-Range says it starts, and cancels an upload that a
client resumes from an earlier Location (its `_state` names an older offset). The spec wants out-of-order
and re-sent chunks refused with 416 and any Location of the session to keep working, so Berth holds the
offset and distribution's latest `_state`, and gives clients one stable Location per session. Redis is
shared by every worker: the chunks of one upload may arrive at different processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from registry_proxy import errors

T = TypeVar("T")

# distribution purges uploads idle for a week (its default `uploadpurging.age`); the session lives as long.
SESSION_SECONDS = 7 * 24 * 3600
# Longer than any chunk takes to arrive (a GiB at a slow 2 MB/s).
CLAIM_SECONDS = 900
_PREFIX = "berth:upload:"


@dataclass
class UploadSession:
    uuid: str
    repository: str
    offset: int  # bytes distribution holds: the next chunk must start here
    upstream: str  # distribution's path and query (with `_state`) for the next request


class UploadSessions:
    """The store; one connection pool per event loop (the test server and each uvicorn worker have one)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: aioredis.Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _redis(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = aioredis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
            self._loop = loop
        return self._client

    async def _call(self, operation: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        try:
            return await operation(self._redis())
        except RedisError as exc:
            raise errors.unavailable(f"Berth's upload sessions (Redis) are unavailable: {exc.__class__.__name__}"
                                     ) from None

    async def get(self, uuid: str) -> UploadSession | None:
        found = await self._call(lambda client: client.hgetall(_PREFIX + uuid))  # type: ignore[arg-type,return-value]
        if not found:
            return None
        return UploadSession(uuid, found[b"repository"].decode(), int(found[b"offset"]), found[b"upstream"].decode())

    async def put(self, session: UploadSession) -> None:
        key = _PREFIX + session.uuid

        async def write(client: aioredis.Redis) -> None:
            pipe = client.pipeline(transaction=True)
            pipe.hset(key, mapping={"repository": session.repository, "offset": session.offset,
                                    "upstream": session.upstream})
            pipe.expire(key, SESSION_SECONDS)
            await pipe.execute()

        await self._call(write)

    async def forget(self, uuid: str) -> None:
        await self._call(lambda client: client.delete(_PREFIX + uuid))

    async def claim(self, uuid: str) -> bool:
        """One chunk at a time per session: two appended at once would both be checked against the same
        offset. The claim lapses by itself if its process dies mid-chunk."""
        claimed = await self._call(lambda client: client.set(_PREFIX + uuid + ":busy", 1, nx=True, ex=CLAIM_SECONDS))
        return bool(claimed)

    async def release(self, uuid: str) -> None:
        await self._call(lambda client: client.delete(_PREFIX + uuid + ":busy"))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
