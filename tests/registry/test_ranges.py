"""Range requests on blobs, on the sendfile path and on the streamed path (the S3 case), through the running Berth."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.registry import Berth
from tests.registry.test_registry_protocol import Client, client, error_of

BLOB = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture(params=["sendfile", "streamed"])
def reader(request: pytest.FixtureRequest, berth: Berth, registry_user: Any, make_project: Any) -> Iterator[Client]:
    from registry_proxy.proxy import ProxyConfig

    user, creds = registry_user()
    make_project("ranges", members={user: "developer"})
    pusher = client(berth, creds, "ranges/app")
    digest = pusher.upload("ranges/app", BLOB)["digest"]
    pusher.digest = digest  # type: ignore[attr-defined]
    pusher.path_kind = request.param  # type: ignore[attr-defined]
    if request.param == "streamed":
        berth.app.reset(dataclasses.replace(ProxyConfig.from_settings(), data_dir=None))
    yield pusher


def get(reader: Client, range_header: str, method: str = "GET") -> Any:
    return reader.request(method, f"/v2/ranges/app/blobs/{reader.digest}",  # type: ignore[attr-defined]
                          headers={"Range": range_header})


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-99", 0, 99),
    ("bytes=100-", 100, 10_239),
    ("bytes=-10", 10_230, 10_239),
    ("bytes=10000-99999", 10_000, 10_239),  # a last byte past the end is cut to the end
    ("bytes=-999999", 0, 10_239),
])
def test_a_satisfiable_range_is_206_with_its_bytes(reader: Client, header: str, first: int, last: int) -> None:
    response = get(reader, header)

    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {first}-{last}/10240"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.content == BLOB[first:last + 1]
    assert response.headers["docker-content-digest"] == reader.digest  # type: ignore[attr-defined]
    # distribution marks its answers with nosniff; the sendfile path is Berth's own.
    from_distribution = "x-content-type-options" in response.headers
    assert from_distribution == (reader.path_kind == "streamed")  # type: ignore[attr-defined]


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-30000", "bytes=-0"])
def test_an_unsatisfiable_range_is_416_whose_body_matches_its_length(reader: Client, header: str) -> None:
    response = get(reader, header)

    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */10240"
    assert int(response.headers["content-length"]) == len(response.content)
    assert error_of(response) == {"code": "RANGE_INVALID",
                                  "message": "the requested range is outside the blob's 10240 bytes"}


def test_the_416_does_not_leave_the_client_waiting(berth: Berth, reader: Client) -> None:
    # distribution 2.8 declared 10,240 bytes and sent 33: a keep-alive client waited for the rest until timeout.
    port = int(berth.host.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall((f"GET /v2/ranges/app/blobs/{reader.digest} HTTP/1.1\r\nHost: {berth.host}\r\n"  # type: ignore[attr-defined]
                      f"Authorization: {reader.headers['Authorization']}\r\nRange: bytes=50000-\r\n\r\n").encode())
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += sock.recv(65536)

    assert head.startswith(b"HTTP/1.1 416")
    assert len(body) == length


@pytest.mark.parametrize("header", ["bytes=0-9,20-29", "items=0-9", "bytes=9-0"])
def test_ranges_it_does_not_serve_get_the_whole_blob(reader: Client, header: str) -> None:
    response = get(reader, header)

    assert response.status_code == 200
    assert response.content == BLOB


def test_head_with_a_range_sends_headers_only(reader: Client) -> None:
    response = get(reader, "bytes=0-9", method="HEAD")

    assert response.status_code == 206
    assert response.headers["content-length"] == "10"
    assert response.content == b""
