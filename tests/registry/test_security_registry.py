"""Security review of /v2/ and /service/token: existence leaks, hostile query values and scope names."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from tests.fixtures.registry import Berth, basic


def error_of(response: httpx.Response) -> dict[str, Any]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    return dict(errors[0])


@pytest.fixture
def stranger(registry_user: Any, make_project: Any) -> tuple[str, str]:
    """A signed-in user with no role in the private project `hidden`."""
    owner, _ = registry_user()
    make_project("hidden", members={owner: "developer"})
    _, creds = registry_user()
    return creds


def _answer(response: httpx.Response) -> tuple[int, str, str]:
    error = error_of(response)
    # The repository's name is in the message; a fair comparison ignores which name was asked about.
    return response.status_code, error["code"], error["message"].replace("hidden", "X").replace("ghost", "X")


@pytest.mark.parametrize("path", ["/v2/{}/app/tags/list", "/v2/{}/app/manifests/latest",
                                  "/v2/{}/app/blobs/sha256:" + "0" * 64])
def test_a_stranger_cannot_tell_a_private_project_from_a_missing_one(berth: Berth, stranger: tuple[str, str],
                                                                     path: str) -> None:
    headers = {"Authorization": basic(*stranger)}

    private = berth.http.get(berth.url + path.format("hidden"), headers=headers)
    missing = berth.http.get(berth.url + path.format("ghost"), headers=headers)

    assert _answer(private) == _answer(missing)
    assert private.status_code == 403
    assert error_of(missing)["message"].endswith("(it does not exist, or you have no access to it)")


def test_an_anonymous_token_cannot_tell_a_private_project_from_a_missing_one(berth: Berth,
                                                                            stranger: tuple[str, str]) -> None:
    private = berth.http.get(f"{berth.url}/v2/hidden/app/tags/list",
                             headers=berth.bearer(None, "repository:hidden/app:pull"))
    missing = berth.http.get(f"{berth.url}/v2/ghost/app/tags/list",
                             headers=berth.bearer(None, "repository:ghost/app:pull"))

    assert _answer(private) == _answer(missing)
    assert private.status_code == 401
    assert 'error="insufficient_scope"' in missing.headers["www-authenticate"]


@pytest.mark.parametrize("n", ["\u00b2", "\u2075", "9" * 5000, "99999999999999999999999"])
def test_a_hostile_page_size_on_tags_is_a_400(berth: Berth, registry_user: Any, make_project: Any, n: str) -> None:
    user, creds = registry_user()
    make_project("paged", members={user: "developer"})
    headers = berth.bearer(creds, "repository:paged/app:pull")

    response = berth.http.get(f"{berth.url}/v2/paged/app/tags/list", params={"n": n}, headers=headers)

    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "PAGINATION_NUMBER_INVALID"


@pytest.mark.parametrize("n", ["\u00b2", "9" * 5000])
def test_a_hostile_page_size_on_the_catalog_is_a_400(berth: Berth, registry_user: Any, n: str) -> None:
    _, creds = registry_user(admin=True)
    headers = berth.bearer(creds, "registry:catalog:*")

    response = berth.http.get(f"{berth.url}/v2/_catalog", params={"n": n}, headers=headers)

    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "PAGINATION_NUMBER_INVALID"


@pytest.mark.parametrize("name", ["open/../hidden/app", "open/App", "open//app", "open/app/"])
def test_the_token_service_grants_nothing_for_a_repository_name_no_client_may_use(
    berth: Berth, registry_user: Any, make_project: Any, name: str
) -> None:
    user, creds = registry_user()
    make_project("open", public=True, members={user: "developer"})

    token = berth.token(creds, f"repository:{name}:pull,push", "repository:open/app:pull")

    assert berth.claims(token)["access"] == [{"type": "repository", "name": "open/app", "actions": ["pull"]}]


@pytest.mark.parametrize(("path", "query"), [("/v2/open/app/tags/list", {"last": "a\x00"}),
                                             ("/v2/open/app/referrers/sha256:" + "0" * 64, {"artifactType": "\x00"}),
                                             ("/v2/open/app/blobs/uploads/", {"mount": "sha256:" + "0" * 64,
                                                                               "from": "open/\x00"}),
                                             ("/service/token", {"service": "berth", "scope": "repository:open/\x00:pull"})])
def test_a_nul_in_the_query_is_a_400(berth: Berth, registry_user: Any, make_project: Any, path: str,
                                     query: dict[str, str]) -> None:
    user, creds = registry_user()
    make_project("open", members={user: "developer"})
    headers = berth.bearer(creds, "repository:open/app:pull,push")

    response = berth.http.request("POST" if "uploads" in path else "GET", berth.url + path, params=query,
                                  headers=headers)

    assert response.status_code == 400, response.text
    assert error_of(response) == {"code": "UNSUPPORTED", "message": "the request's path or query contains a NUL byte"}


@pytest.mark.parametrize(("method", "path", "action"), [("POST", "/v2/crew/app/blobs/uploads/", "push"),
                                                        ("PUT", "/v2/crew/app/manifests/v1", "push"),
                                                        ("DELETE", "/v2/crew/app/manifests/v1", "delete")])
def test_a_refused_write_on_v2_is_audited_and_changes_nothing(berth: Berth, registry_user: Any, make_project: Any,
                                                               method: str, path: str, action: str) -> None:
    from portal.artifacts.models import Repository
    from portal.audit.models import AuditEntry

    guest, creds = registry_user()
    make_project("crew", members={guest: "guest"})

    response = berth.http.request(method, berth.url + path, headers={"Authorization": basic(*creds)}, content=b"{}")

    assert response.status_code == 403
    entry = AuditEntry.objects.get(action=action, outcome="denied")
    assert (entry.actor, entry.resource_type, entry.resource, entry.project_name) == (
        guest.username, "repository", "crew/app", "crew")
    assert entry.detail["message"].startswith(f"{guest.username} may not {action} repository crew/app")
    assert not Repository.objects.filter(name="crew/app").exists()


def _raw_get(berth: Berth, path: str) -> bytes:
    """A request line sent as is: httpx would re-encode the path."""
    host, port = berth.host.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {berth.host}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("path", ['/v2/a%22,realm=%22http://evil.example/b/tags/list',
                                  "/v2/a%0d%0aSet-Cookie:%20x=1/b/tags/list", "/v2/a%0ab/c/manifests/x"])
def test_a_repository_name_cannot_reach_the_challenge_header(berth: Berth, path: str) -> None:
    answer = _raw_get(berth, path)

    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 400 Bad Request"
    assert b"evil.example" not in rest.split(b"\r\n\r\n", 1)[0]
    assert b"set-cookie" not in rest.lower().split(b"\r\n\r\n", 1)[0]
    assert b'"code": "NAME_INVALID"' in rest


def test_n_zero_on_tags_is_an_empty_list_without_a_link(berth: Berth, registry_user: Any, make_project: Any) -> None:
    user, creds = registry_user()
    make_project("paged", members={user: "developer"})
    headers = berth.bearer(creds, "repository:paged/app:pull,push")
    from tests.registry.test_registry_protocol import Client

    Client(berth, headers).image("paged/app", "1")

    response = berth.http.get(f"{berth.url}/v2/paged/app/tags/list", params={"n": "0"}, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"name": "paged/app", "tags": []}
    assert "link" not in response.headers


@pytest.mark.parametrize("entry", [{"name": "open/app", "actions": ["pull"]}, {"type": "repository", "actions": ["pull"]},
                                   {"type": ["repository"], "name": "open/app", "actions": ["pull"]},
                                   {"type": "repository", "name": "open/app", "actions": "pull"},
                                   {"type": "repository", "name": "open/app", "actions": [1]}], ids=repr)
def test_a_token_whose_access_entry_is_malformed_is_a_401(berth: Berth, registry_user: Any, make_project: Any,
                                                          entry: dict[str, Any]) -> None:
    import time

    import jwt

    from portal.registry.tokens import ALGORITHM, ISSUER, SERVICE

    user, _ = registry_user()
    make_project("open", public=True, members={user: "developer"})
    key = berth.app.keys.signing_key()
    now = int(time.time())
    forged = jwt.encode({"iss": ISSUER, "aud": SERVICE, "sub": user.username, "kind": "user", "iat": now,
                         "nbf": now - 1, "exp": now + 60, "access": [entry]}, key.private, algorithm=ALGORITHM,
                        headers={"kid": key.kid})

    response = berth.http.get(f"{berth.url}/v2/open/app/tags/list", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401, response.text
    assert error_of(response) == {"code": "UNAUTHORIZED", "message": "invalid token: malformed access claim"}


@pytest.mark.parametrize("path", ["/service/nothing", "/service/", "/service/token/extra"])
def test_unknown_paths_under_service_are_oci_errors(berth: Berth, path: str) -> None:
    response = berth.http.get(berth.url + path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert error_of(response) == {"code": "NOT_FOUND", "message": f"no registry route for {path}"}


@pytest.mark.parametrize(("path", "body"), [
    ("/v2/", {"errors": [{"code": "UNSUPPORTED", "message": "the Authorization header is longer than 8192 bytes"}]}),
    ("/v2/open/app/tags/list",
     {"errors": [{"code": "UNSUPPORTED", "message": "the Authorization header is longer than 8192 bytes"}]}),
    ("/service/token",
     {"errors": [{"code": "UNSUPPORTED", "message": "the Authorization header is longer than 8192 bytes"}]}),
    ("/api/v1/users/current",
     {"errors": [{"code": "header_too_large", "message": "the Authorization header is longer than 8192 bytes"}]}),
])
@pytest.mark.parametrize("scheme", ["Basic", "Bearer"])
def test_an_authorization_header_over_8_kib_is_a_431_in_the_format_of_its_api(berth: Berth, path: str,
                                                                              body: dict[str, Any], scheme: str) -> None:
    from portal.audit.models import AuditEntry

    response = berth.http.get(berth.url + path, headers={"Authorization": f"{scheme} " + "A" * 1_100_000})
    just_fits = berth.http.get(berth.url + path, headers={"Authorization": f"{scheme} " + "A" * (8192 - 7)})

    assert response.status_code == 431
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body
    assert just_fits.status_code in (400, 401)
    assert not AuditEntry.objects.filter(actor__startswith="A" * 100).exists()


def _raw(berth: Berth, request: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    host, port = berth.host.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    return status, {k.lower(): v for k, _, v in (line.partition(b": ") for line in lines)}, body


URL_TOO_LONG = "the request's URL is longer than 16384 bytes"
NOT_HTTP = "the request is not valid HTTP/1.1 (a malformed request line, header or Content-Length)"


@pytest.mark.parametrize(("request_line", "extra", "status", "body"), [
    (b"GET /v2/" + b"a" * 20_000, b"", b"HTTP/1.1 414 URI Too Long",
     {"errors": [{"code": "UNSUPPORTED", "message": URL_TOO_LONG}]}),
    (b"GET /service/token?scope=" + b"a" * 20_000, b"", b"HTTP/1.1 414 URI Too Long",
     {"errors": [{"code": "UNSUPPORTED", "message": URL_TOO_LONG}]}),
    (b"GET /api/v1/projects?q=" + b"a" * 20_000, b"", b"HTTP/1.1 414 URI Too Long",
     {"errors": [{"code": "malformed_request", "message": URL_TOO_LONG}]}),
    (b"POST /v2/open/app/blobs/uploads/", b"Content-Length: abc\r\n", b"HTTP/1.1 400 Bad Request",
     {"errors": [{"code": "UNSUPPORTED", "message": NOT_HTTP}]}),
    (b"POST /api/v1/projects", b"Content-Length: -1\r\n", b"HTTP/1.1 400 Bad Request",
     {"errors": [{"code": "malformed_request", "message": NOT_HTTP}]}),
], ids=["v2-url", "token-url", "api-url", "v2-length", "api-length"])
def test_requests_the_server_cannot_parse_are_refused_in_the_format_of_their_api(
    berth: Berth, request_line: bytes, extra: bytes, status: bytes, body: dict[str, Any]
) -> None:
    import json

    answer_status, headers, answer_body = _raw(
        berth, request_line + b" HTTP/1.1\r\nHost: " + berth.host.encode() + b"\r\n" + extra + b"\r\n")

    assert answer_status == status
    assert headers[b"content-type"] == b"application/json"
    assert json.loads(answer_body) == body
