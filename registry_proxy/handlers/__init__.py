"""The handlers that answer a request once its checks passed, one module per resource."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from registry_proxy.plumbing import Context, Send
from registry_proxy.proxy import Proxy

Handler = Callable[[Proxy, Context, Send], Awaitable[None]]
