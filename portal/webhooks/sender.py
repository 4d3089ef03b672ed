"""One HTTP request to a webhook target: the address checked against SSRF first, no redirects followed."""

from __future__ import annotations

import functools
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services answer on these, and hand out the instance's credentials.
METADATA_NETWORKS = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fd00:ec2::254/128"))


class TargetRefused(Exception):
    """The target's address is one Berth does not send to, or it cannot be resolved."""


def validate_url(url: str) -> tuple[str, str, int]:
    """The scheme, host and port of an http(s) URL, or ValueError with what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("the target URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("the target URL has no host")
    if parts.username or parts.password:
        raise ValueError("credentials in the target URL are not allowed: use the auth header")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError("the target URL's port is not a number from 1 to 65535") from None
    return parts.scheme, parts.hostname, port


def refusal(address: IPAddress) -> str | None:
    """Why Berth will not send to `address`, or None. Loopback and private networks are allowed: receivers
    on the same host or LAN are the common case; link-local and metadata addresses are not (unless allowed)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if not settings.WEBHOOK_ALLOW_LINK_LOCAL and (
        address.is_link_local or any(address in network for network in METADATA_NETWORKS)
    ):
        return f"{address} is a link-local or cloud metadata address (BERTH_WEBHOOK_ALLOW_LINK_LOCAL allows it)"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TargetRefused(f"cannot resolve {host}: {exc}") from None
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))


def checked_address(host: str, port: int) -> IPAddress:
    """The address to connect to: every address the name resolves to must be allowed, so a name that
    resolves to a public and a metadata address is refused rather than raced."""
    addresses = resolve(host, port)
    for address in addresses:
        reason = refusal(address)
        if reason:
            raise TargetRefused(f"target {host} refused: {reason}")
    return addresses[0]


@dataclass
class Sent:
    status: int | None
    body: str
    error: str
    latency_ms: float


@functools.cache
def _client() -> httpx.Client:
    """One client per process for plain http targets: connections are kept alive between deliveries."""
    return httpx.Client(follow_redirects=False, trust_env=False,
                        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))


def send(url: str, body: str, headers: dict[str, str], *, verify_tls: bool,
         transport: httpx.BaseTransport | None = None,
         resolver: Callable[[str, int], IPAddress] = checked_address) -> Sent:
    """POSTs the body; never raises for the target's failures, which are the delivery log's content."""
    scheme, host, port = validate_url(url)
    started = time.monotonic()
    try:
        address = resolver(host, port)
    except TargetRefused as exc:
        return Sent(None, "", str(exc), 0.0)
    # Connecting to the address that was checked (not resolving again) closes the window in which a name
    # could be re-pointed at a forbidden address; the Host header and TLS's SNI still carry the name.
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    pinned = urlunsplit((scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    limit = settings.WEBHOOK_LOG_BODY_BYTES
    # Connections are kept for plain http only: pooled by address, a TLS connection made for one name
    # could otherwise carry a request for another name on the same address.
    pooled = transport is None and scheme == "http"
    client = _client() if pooled else httpx.Client(verify=verify_tls, transport=transport, trust_env=False)
    try:
        request = client.build_request("POST", pinned, content=body.encode(), headers={**headers, "Host": host_header},
                                       extensions=extensions, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
        response = client.send(request, stream=True, follow_redirects=False)
        try:
            received = b""
            for chunk in response.iter_bytes():
                received += chunk
                if len(received) >= limit:
                    break
        finally:
            response.close()
        return Sent(response.status_code, received[:limit].decode(errors="replace"), "",
                    (time.monotonic() - started) * 1000)
    except httpx.HTTPError as exc:
        return Sent(None, "", f"{type(exc).__name__}: {exc}"[:1000], (time.monotonic() - started) * 1000)
    finally:
        if not pooled:
            client.close()
