"""`/v2/_catalog`: distribution's repository list, for administrators."""

from __future__ import annotations

from registry_proxy.plumbing import Context, Send, page_size
from registry_proxy.proxy import Proxy

MAX_CATALOG_PAGE = 10_000


async def catalog(app: Proxy, context: Context, send: Send) -> None:
    page_size(context.request.param("n"), MAX_CATALOG_PAGE)
    await app.proxy(context, send)
