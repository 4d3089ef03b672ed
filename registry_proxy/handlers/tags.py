"""`/v2/<name>/tags/list`: a repository's tags, sorted and paginated from Berth's index."""

from __future__ import annotations

from urllib.parse import urlencode

from portal.artifacts.models import Repository
from portal.artifacts.services import list_tags
from registry_proxy import errors
from registry_proxy.plumbing import Context, Send, page_size, send_json
from registry_proxy.proxy import Proxy

# Larger than any repository Berth is sized for (100,000 tags), small enough for every database's LIMIT.
MAX_TAGS_PAGE = 1_000_000


async def tags_list(app: Proxy, context: Context, send: Send) -> None:
    """Sorted and paginated from Berth's index (distribution 2.8 neither sorts reliably nor deletes tags)."""
    n, last = page_size(context.request.param("n"), MAX_TAGS_PAGE), context.request.param("last")
    tags = await app.run_sync(_list_tags, context.name, None if n is None else n + 1, last or None)
    if tags is None:
        raise errors.name_unknown(f"repository {context.name} is not known")
    headers: list[tuple[bytes, bytes]] = []
    if n == 0:
        # The distribution spec: n=0 is an empty list, with no Link header.
        tags = []
    elif n is not None and len(tags) > n:
        tags = tags[:n]
        link = f"</v2/{context.name}/tags/list?{urlencode({'n': n, 'last': tags[-1]})}>; rel=\"next\""
        headers.append((b"link", link.encode()))
    await send_json(send, 200, {"name": context.name, "tags": tags}, headers)


def _list_tags(repository: str, n: int | None, last: str | None) -> list[str] | None:
    tags = list_tags(repository, n, last)
    if not tags and not Repository.objects.filter(name=repository).exists():
        return None
    return tags
