"""Chunked uploads exactly as the OCI distribution spec says, over raw HTTP through the running Berth."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from tests.fixtures.registry import Berth
from tests.registry.test_registry_protocol import Client, client, error_of, sha256

OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def creds(registry_user: Any, make_project: Any) -> tuple[str, str]:
    user, credentials = registry_user()
    make_project("chunks", members={user: "developer"})
    return credentials  # type: ignore[no-any-return]


@pytest.fixture
def pusher(berth: Berth, creds: tuple[str, str]) -> Client:
    return client(berth, creds, "chunks/app")


def start(pusher: Client) -> httpx.Response:
    response = pusher.request("POST", "/v2/chunks/app/blobs/uploads/")
    assert response.status_code == 202, response.text
    return response


def patch(pusher: Client, location: str, data: bytes, content_range: str | None = None,
          **headers: str) -> httpx.Response:
    extra = {**OCTETS, **headers}
    if content_range is not None:
        extra["Content-Range"] = content_range
    return pusher.request("PATCH", location, content=data, headers=extra)


def test_the_location_is_one_stable_url_per_session(berth: Berth, pusher: Client) -> None:
    opened = start(pusher)
    uuid = opened.headers["docker-upload-uuid"]

    assert opened.headers["location"] == f"{berth.url}/v2/chunks/app/blobs/uploads/{uuid}"
    assert opened.headers["range"] == "0-0"


def test_a_chunk_that_does_not_start_at_the_offset_gets_416_with_range_and_location(pusher: Client) -> None:
    opened = start(pusher)
    location = opened.headers["location"]

    skipped = patch(pusher, location, b"later", "5-9")
    status = pusher.request("GET", location)

    assert skipped.status_code == 416
    assert error_of(skipped) == {
        "code": "RANGE_INVALID",
        "message": "the chunk 5-9 does not continue the upload, which holds 0 bytes",
    }
    assert skipped.headers["range"] == "0-0"
    assert skipped.headers["location"] == location
    assert status.headers["range"] == "0-0"  # nothing was appended


def test_a_resent_chunk_gets_416_and_the_upload_is_unchanged(pusher: Client) -> None:
    data = b"first chunk!" + b"second chunk"
    opened = start(pusher)
    stale = opened.headers["location"]
    first = patch(pusher, stale, data[:12], "0-11")

    again = patch(pusher, stale, data[:12], "0-11")
    status = pusher.request("GET", stale)
    second = patch(pusher, status.headers["location"], data[12:], "12-23")
    done = pusher.request("PUT", f"{second.headers['location']}?digest={sha256(data)}")
    fetched = pusher.request("GET", f"/v2/chunks/app/blobs/{sha256(data)}")

    assert first.status_code == 202 and first.headers["range"] == "0-11"
    assert again.status_code == 416
    assert error_of(again)["message"] == "the chunk 0-11 does not continue the upload, which holds 12 bytes"
    assert again.headers["range"] == "0-11"
    # A Location from before the first chunk still works (distribution 2.8 would have cancelled the upload).
    assert status.status_code == 204
    assert status.headers["range"] == "0-11"
    assert status.headers["location"] == stale
    assert second.status_code == 202 and second.headers["range"] == "0-23"
    assert done.status_code == 201, done.text
    assert fetched.content == data


def test_get_on_an_upload_in_progress_is_204_with_range_and_location(pusher: Client) -> None:
    opened = start(pusher)
    patch(pusher, opened.headers["location"], b"x" * 1000, "0-999")

    status = pusher.request("GET", opened.headers["location"])

    assert status.status_code == 204
    assert status.headers["range"] == "0-999"
    assert status.headers["location"] == opened.headers["location"]
    assert status.headers["docker-upload-uuid"] == opened.headers["docker-upload-uuid"]
    assert status.content == b""


def test_streamed_chunks_without_content_range_append(pusher: Client) -> None:
    data = b"streamed " * 1000
    opened = start(pusher)
    first = patch(pusher, opened.headers["location"], data[:4000])
    second = patch(pusher, first.headers["location"], data[4000:])

    done = pusher.request("PUT", f"{second.headers['location']}?digest={sha256(data)}")

    assert second.headers["range"] == f"0-{len(data) - 1}"
    assert done.status_code == 201, done.text
    assert done.headers["docker-content-digest"] == sha256(data)


def test_a_content_length_that_does_not_match_the_content_range_is_400(pusher: Client) -> None:
    opened = start(pusher)

    mismatched = patch(pusher, opened.headers["location"], b"0123456789", "0-4")
    status = pusher.request("GET", opened.headers["location"])

    assert mismatched.status_code == 400
    assert error_of(mismatched) == {
        "code": "BLOB_UPLOAD_INVALID",
        "message": "Content-Length '10' does not match Content-Range 0-4 (5 bytes)",
    }
    assert status.headers["range"] == "0-0"


def test_a_malformed_content_range_is_416(pusher: Client) -> None:
    opened = start(pusher)

    malformed = patch(pusher, opened.headers["location"], b"abc", "bytes 0-")

    assert malformed.status_code == 416
    assert error_of(malformed)["message"] == "malformed Content-Range 'bytes 0-': expected <first>-<last>"
    assert malformed.headers["range"] == "0-0"


def test_the_final_put_may_carry_the_last_chunk_and_it_is_checked_too(pusher: Client) -> None:
    data = b"head" + b"tail"
    opened = start(pusher)
    patch(pusher, opened.headers["location"], data[:4], "0-3")
    url = f"{opened.headers['location']}?digest={sha256(data)}"

    out_of_order = pusher.request("PUT", url, content=data[4:], headers={**OCTETS, "Content-Range": "0-3"})
    done = pusher.request("PUT", url, content=data[4:], headers={**OCTETS, "Content-Range": "4-7"})

    assert out_of_order.status_code == 416
    assert done.status_code == 201, done.text
    assert pusher.request("GET", f"/v2/chunks/app/blobs/{sha256(data)}").content == data


def test_delete_cancels_the_upload(pusher: Client) -> None:
    opened = start(pusher)
    patch(pusher, opened.headers["location"], b"abc", "0-2")

    cancelled = pusher.request("DELETE", opened.headers["location"])
    after = pusher.request("GET", opened.headers["location"])
    put = pusher.request("PUT", f"{opened.headers['location']}?digest={sha256(b'abc')}")

    assert cancelled.status_code == 204
    assert after.status_code == 404
    assert error_of(after)["code"] == "BLOB_UPLOAD_UNKNOWN"
    assert put.status_code == 404
    assert pusher.request("HEAD", f"/v2/chunks/app/blobs/{sha256(b'abc')}").status_code == 404


def test_an_upload_is_only_reachable_through_its_own_repository(berth: Berth, creds: tuple[str, str]) -> None:
    both = client(berth, creds, "chunks/app", "chunks/elsewhere")
    opened = both.request("POST", "/v2/chunks/app/blobs/uploads/")
    uuid = opened.headers["docker-upload-uuid"]

    elsewhere = both.request("GET", f"/v2/chunks/elsewhere/blobs/uploads/{uuid}")
    unknown = both.request("GET", "/v2/chunks/app/blobs/uploads/no-such-upload")

    assert elsewhere.status_code == 404
    assert error_of(elsewhere) == {"code": "BLOB_UPLOAD_UNKNOWN",
                                   "message": f"upload {uuid} is not known in chunks/elsewhere"}
    assert unknown.status_code == 404
    assert error_of(unknown)["message"] == "upload no-such-upload is not known in chunks/app"


def test_a_chunk_sent_while_another_is_arriving_gets_416(berth: Berth, pusher: Client) -> None:
    import socket
    import time

    opened = start(pusher)
    location = httpx.URL(opened.headers["location"])
    with socket.create_connection(("127.0.0.1", int(berth.host.rsplit(":", 1)[1])), timeout=10) as slow:
        slow.sendall((f"PATCH {location.raw_path.decode()} HTTP/1.1\r\nHost: {berth.host}\r\n"
                      f"Authorization: {pusher.headers['Authorization']}\r\nContent-Length: 6\r\n"
                      "Content-Range: 0-5\r\nContent-Type: application/octet-stream\r\n\r\nabc").encode())
        time.sleep(0.5)  # the first half is with Berth, which holds the session for it

        meanwhile = patch(pusher, str(location), b"xyz", "0-2")
        slow.sendall(b"def")
        first = slow.recv(65536)
    status = pusher.request("GET", str(location))

    assert meanwhile.status_code == 416
    assert error_of(meanwhile)["message"] == "another chunk of this upload is still being received"
    assert first.startswith(b"HTTP/1.1 202")
    assert status.headers["range"] == "0-5"


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_a_monolithic_post_stores_the_blob_in_one_request(berth: Berth, pusher: Client, algorithm: str) -> None:
    data = b"all at once " * 100
    digest = f"{algorithm}:" + hashlib.new(algorithm, data).hexdigest()

    done = pusher.request("POST", f"/v2/chunks/app/blobs/uploads/?digest={digest}", content=data, headers=OCTETS)
    fetched = pusher.request("GET", f"/v2/chunks/app/blobs/{digest}")

    assert done.status_code == 201, done.text
    assert done.headers["docker-content-digest"] == digest
    assert done.headers["location"] == f"{berth.url}/v2/chunks/app/blobs/{digest}"
    assert fetched.content == data
    assert fetched.headers["docker-content-digest"] == digest


def test_a_monolithic_post_with_the_wrong_digest_stores_nothing(pusher: Client) -> None:
    data = b"these bytes"

    refused = pusher.request("POST", f"/v2/chunks/app/blobs/uploads/?digest={sha256(b'others')}", content=data,
                             headers=OCTETS)

    assert refused.status_code == 400
    assert error_of(refused)["code"] == "DIGEST_INVALID"
    assert pusher.request("HEAD", f"/v2/chunks/app/blobs/{sha256(data)}").status_code == 404


def test_a_chunk_with_another_content_type_is_taken_as_bytes(pusher: Client) -> None:
    opened = start(pusher)

    chunk = patch(pusher, opened.headers["location"], b"plain", "0-4", **{"Content-Type": "text/plain"})

    assert chunk.status_code == 202, chunk.text  # distribution 2.8 alone answers 500 UNKNOWN
    assert chunk.headers["range"] == "0-4"
