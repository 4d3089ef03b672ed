"""`/v2/`: the API version check clients start with (and the 401 that sends them to the token service)."""

from __future__ import annotations

from registry_proxy.plumbing import Context, Send, send_json
from registry_proxy.proxy import Proxy


async def base(app: Proxy, context: Context, send: Send) -> None:
    await send_json(send, 200, {})
