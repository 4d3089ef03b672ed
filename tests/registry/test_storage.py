"""Removing a deleted repository from distribution's storage: S3 requests and their signatures (a fake S3 over
httpx's MockTransport; the filesystem storage is tested through /v2/ in test_deletion.py)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import httpx
import pytest

from portal.registry.storage import EMPTY_SHA256, S3_NAMESPACE, S3Storage, StorageError, sign_v4


def test_the_signature_is_the_one_aws_documents() -> None:
    # AWS's documented example of a signed GET Object request (Signature Version 4, header-based).
    headers = sign_v4("GET", "https://examplebucket.s3.amazonaws.com/test.txt", {"Range": "bytes=0-9"},
                      EMPTY_SHA256, access_key="AKIAIOSFODNN7EXAMPLE",
                      secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region="us-east-1",
                      now=datetime(2013, 5, 24, tzinfo=UTC))

    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    assert headers["x-amz-date"] == "20130524T000000Z"


class FakeS3:
    """A bucket in a dict, answering ListObjectsV2 two keys a page and DeleteObjects, as S3 does."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = set(keys)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=key/")
        assert request.headers["x-amz-content-sha256"] == hashlib.sha256(request.content).hexdigest()
        assert request.url.path == "/bucket/"
        query = parse_qs(urlsplit(str(request.url)).query, keep_blank_values=True)
        if request.method == "GET":
            matching = sorted(key for key in self.keys if key.startswith(query["prefix"][0]))
            start = int(query.get("continuation-token", ["0"])[0])
            page, rest = matching[start:start + 2], matching[start + 2:]
            contents = "".join(f"<Contents><Key>{key}</Key></Contents>" for key in page)
            more = f"<IsTruncated>true</IsTruncated><NextContinuationToken>{start + 2}</NextContinuationToken>" if rest \
                else "<IsTruncated>false</IsTruncated>"
            return httpx.Response(200, text=f'<ListBucketResult xmlns="{S3_NAMESPACE[1:-1]}">{contents}{more}'
                                            "</ListBucketResult>")
        assert "delete" in query
        assert request.headers["content-md5"] == base64.b64encode(hashlib.md5(request.content).digest()).decode()
        document = ElementTree.fromstring(request.content)
        for key in document.iter(f"{S3_NAMESPACE}Key"):
            self.keys.discard(key.text or "")
        return httpx.Response(200, text=f'<DeleteResult xmlns="{S3_NAMESPACE[1:-1]}"></DeleteResult>')


def _storage(fake: FakeS3, access_key: str = "key") -> S3Storage:
    return S3Storage("bucket", "eu-west-1", "http://s3.test", access_key, "secret", "/berth",
                     session=httpx.Client(transport=httpx.MockTransport(fake)))


REPOSITORIES = "berth/docker/registry/v2/repositories"
KEYS = [
    f"{REPOSITORIES}/p/x/_manifests/tags/v1/current/link",
    f"{REPOSITORIES}/p/x/_manifests/revisions/sha256/aa/link",
    f"{REPOSITORIES}/p/x/_layers/sha256/bb/link",
    f"{REPOSITORIES}/p/x/_uploads/u1/startedat",
    f"{REPOSITORIES}/p/x/y/_layers/sha256/cc/link",
    f"{REPOSITORIES}/p/xx/_layers/sha256/dd/link",
    f"{REPOSITORIES}/q/z/_layers/sha256/ee/link",
    "berth/docker/registry/v2/blobs/sha256/bb/bb/data",
]


def test_removing_a_repository_from_s3_leaves_nested_and_neighbouring_repositories_and_the_blobs() -> None:
    fake = FakeS3(KEYS)

    _storage(fake).remove_repository("p/x")

    assert sorted(fake.keys) == sorted([
        f"{REPOSITORIES}/p/x/y/_layers/sha256/cc/link", f"{REPOSITORIES}/p/xx/_layers/sha256/dd/link",
        f"{REPOSITORIES}/q/z/_layers/sha256/ee/link", "berth/docker/registry/v2/blobs/sha256/bb/bb/data",
    ])


def test_removing_a_project_from_s3_removes_every_repository_under_it_in_pages() -> None:
    fake = FakeS3(KEYS)

    _storage(fake).remove_project("p")

    assert sorted(fake.keys) == ["berth/docker/registry/v2/blobs/sha256/bb/bb/data",
                                 f"{REPOSITORIES}/q/z/_layers/sha256/ee/link"]
    # Five keys, two a page: three lists, then one DeleteObjects call for all of them.
    assert [request.method for request in fake.requests] == ["GET", "GET", "GET", "POST"]


def test_s3_without_keys_or_answering_an_error_deletes_nothing_and_says_why() -> None:
    fake = FakeS3(KEYS)

    def refusing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>")

    with pytest.raises(StorageError) as no_keys:
        _storage(fake, access_key="").remove_repository("p/x")
    with pytest.raises(StorageError) as denied:
        S3Storage("bucket", "eu-west-1", "http://s3.test", "key", "secret", "/berth",
                  session=httpx.Client(transport=httpx.MockTransport(refusing))).remove_repository("p/x")

    assert no_keys.value.message == ("removing a deleted repository from S3 needs BERTH_REGISTRY_S3_ACCESS_KEY and "
                                     "BERTH_REGISTRY_S3_SECRET_KEY")
    assert denied.value.message.startswith("S3 answered 403 to GET http://s3.test/bucket/: <Error><Code>AccessDenied")
    assert (no_keys.value.status_code, no_keys.value.code) == (503, "registry_unavailable")
    assert len(fake.keys) == len(KEYS)
