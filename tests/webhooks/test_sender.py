"""The sender's guards: addresses Berth never sends to (SSRF), redirects not followed, bodies truncated."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

from portal.webhooks import sender
from tests.webhooks.receiver import Receiver


@pytest.mark.parametrize("address", ["169.254.169.254", "169.254.0.1", "fd00:ec2::254", "fe80::1", "0.0.0.0", "::",
                                     "::ffff:169.254.169.254", "224.0.0.1"])
def test_metadata_link_local_unspecified_and_multicast_addresses_are_refused(address: str) -> None:
    assert sender.refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.10", "93.184.216.34"])
def test_loopback_private_and_public_addresses_are_allowed(address: str) -> None:
    assert sender.refusal(ipaddress.ip_address(address)) is None


def test_the_setting_allows_link_local_targets(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_LINK_LOCAL = True

    assert sender.refusal(ipaddress.ip_address("169.254.169.254")) is None
    assert sender.refusal(ipaddress.ip_address("0.0.0.0")) == "0.0.0.0 is the unspecified address"


def test_a_name_resolving_to_a_metadata_address_is_refused_without_a_connection() -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    sent = sender.send("http://metadata.example/latest", "{}", {}, verify_tls=True,
                       transport=httpx.MockTransport(never),
                       resolver=lambda host, port: sender.checked_address("169.254.169.254", port))

    assert sent.status is None
    assert sent.error == ("target 169.254.169.254 refused: 169.254.169.254 is a link-local or cloud metadata "
                          "address (BERTH_WEBHOOK_ALLOW_LINK_LOCAL allows it)")


def test_the_checked_address_is_the_one_connected_to_with_the_name_in_the_host_header() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    sent = sender.send("http://hooks.example:8080/in?x=1", "{}", {"X-A": "b"}, verify_tls=True,
                       transport=httpx.MockTransport(record),
                       resolver=lambda host, port: ipaddress.ip_address("10.0.0.7"))

    assert sent.status == 204
    assert str(seen[0].url) == "http://10.0.0.7:8080/in?x=1"
    assert seen[0].headers["Host"] == "hooks.example:8080" and seen[0].headers["X-A"] == "b"


def test_redirects_are_not_followed_and_long_bodies_are_cut(settings: Any) -> None:
    settings.WEBHOOK_LOG_BODY_BYTES = 10
    followed: list[str] = []

    def redirect(request: httpx.Request) -> httpx.Response:
        followed.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/"}, content=b"x" * 100)

    sent = sender.send("http://127.0.0.1:1/", "{}", {}, verify_tls=True, transport=httpx.MockTransport(redirect))

    assert (sent.status, sent.body) == (302, "x" * 10)
    assert followed == ["http://127.0.0.1:1/"]


def test_a_real_loopback_receiver_is_reached(receiver: Receiver) -> None:
    sent = sender.send(receiver.url, '{"a": 1}', {"Content-Type": "application/json"}, verify_tls=True)

    assert (sent.status, sent.body, sent.error) == (200, "answered 200", "")
    assert receiver.requests[0].body == b'{"a": 1}' and sent.latency_ms > 0
