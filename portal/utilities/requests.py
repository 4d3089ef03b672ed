"""Facts about an incoming HTTP request that several apps need."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings

# Far above any credential Berth issues or takes (a registry token is under 2 KiB), and what nginx and most
# proxies allow a header line; longer ones are only ever a client's mistake or a probe for parser limits.
MAX_AUTHORIZATION_BYTES = 8 * 1024
AUTHORIZATION_TOO_LONG = f"the Authorization header is longer than {MAX_AUTHORIZATION_BYTES} bytes"


def client_address(request: Any) -> str | None:
    """The caller's address; X-Forwarded-For is honoured only from configured trusted proxies."""
    meta = getattr(request, "META", {})
    remote = meta.get("REMOTE_ADDR") or None
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    trusted = getattr(settings, "TRUSTED_PROXIES", [])
    if forwarded and remote and any(_in_network(remote, net) for net in trusted):
        candidate = forwarded.split(",")[0].strip()
        if _is_ip(candidate):
            return candidate
    return remote if remote and _is_ip(remote) else None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _in_network(address: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False
