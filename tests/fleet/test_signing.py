"""Signed requests: what verifies, and each way a signature is refused."""

from __future__ import annotations

import pytest

from runtime_agent.agent.signing import (
    NonceCache,
    SignatureError,
    Signer,
    new_private_key,
    now_us,
    verify,
)

BODY = b'{"image": "x"}'


@pytest.fixture
def signer() -> Signer:
    return Signer(new_private_key(), "portal")


def check(header: str | None, signer: Signer, **overrides: object) -> object:
    args: dict[str, object] = {
        "audience": "host-1", "method": "POST", "target": "/v1/containers", "body": BODY,
    }  # fmt: skip
    args.update(overrides)
    return verify(header, signer.key.public_key(), **args)  # type: ignore[arg-type]


def test_a_valid_signature_verifies(signer: Signer) -> None:
    signed = check(signer.header("host-1", "POST", "/v1/containers", BODY), signer)
    assert signed.key_id == "portal"  # type: ignore[attr-defined]


def test_a_missing_header_is_refused(signer: Signer) -> None:
    with pytest.raises(
        SignatureError, match=r"^missing Authorization header: requests must be signed"
    ):
        check(None, signer)


def test_another_scheme_is_refused(signer: Signer) -> None:
    with pytest.raises(SignatureError, match="must use the Berth-Signature scheme"):
        check("Bearer abc", signer)


def test_a_wrong_key_is_refused(signer: Signer) -> None:
    stranger = Signer(new_private_key(), "portal")
    with pytest.raises(SignatureError, match="^signature does not verify for this request$"):
        check(stranger.header("host-1", "POST", "/v1/containers", BODY), signer)


@pytest.mark.parametrize(
    "change",
    [
        {"audience": "host-2"},
        {"method": "DELETE"},
        {"target": "/v1/containers?all=1"},
        {"body": b"{}"},
    ],
)
def test_a_signature_binds_audience_method_target_and_body(
    signer: Signer, change: dict[str, object]
) -> None:
    header = signer.header("host-1", "POST", "/v1/containers", BODY)
    with pytest.raises(SignatureError, match="does not verify"):
        check(header, signer, **change)


def test_an_expired_signature_is_refused(signer: Signer) -> None:
    header = signer.header("host-1", "POST", "/v1/containers", BODY)
    with pytest.raises(
        SignatureError,
        match=r"^signature expired: its timestamp is 61 s from now \(allowed: 60 s\)$",
    ):
        check(header, signer, now=now_us() + 61_000_000)


def test_a_replayed_nonce_is_refused(signer: Signer) -> None:
    cache = NonceCache()
    header = signer.header("host-1", "POST", "/v1/containers", BODY)
    cache.check(check(header, signer))  # type: ignore[arg-type]
    with pytest.raises(SignatureError, match="^signature replayed: this nonce was already used$"):
        cache.check(check(header, signer))  # type: ignore[arg-type]


def test_timestamps_of_one_signer_strictly_increase(signer: Signer) -> None:
    stamps = [
        int(signer.header("a", "GET", "/", b"").split("ts=")[1].split(",")[0]) for _ in range(200)
    ]
    assert stamps == sorted(set(stamps))
