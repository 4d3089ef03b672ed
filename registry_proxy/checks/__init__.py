"""The checks a route runs before its handler, one module each; a new rule on `/v2/` is a new module here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from registry_proxy.plumbing import Context
from registry_proxy.proxy import Proxy

Check = Callable[[Proxy, Context], Awaitable[None]]
