"""Signed requests between the portal and its agents: Ed25519 over method, target, body and a nonce.

Each side holds its own private key and the other's public key; nothing secret is shared or stored
by the other side. A signature names its audience (the host's id), so a request signed for one
agent is refused by every other, and carries a timestamp and a nonce so it cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SCHEME = "Berth-Signature"
VERSION = "berth-agent-v1"
# Clocks of hosts in one fleet agree within seconds; a minute leaves room without helping replays.
DEFAULT_WINDOW_SECONDS = 60
_HEADER = re.compile(rf"^{SCHEME} (.+)$")


class SignatureError(Exception):
    """A request whose signature is missing, malformed, wrong, stale or replayed."""

    code = "unauthenticated"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_text(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    return b64(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def load_private_key(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(unb64(text))


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return b64(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def load_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = unb64(text)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError):
        raise SignatureError("not an Ed25519 public key") from None


def now_us() -> int:
    return time.time_ns() // 1000


def _message(audience: str, method: str, target: str, ts: int, nonce: str, body: bytes) -> bytes:
    return "\n".join(
        (
            VERSION,
            audience,
            method.upper(),
            target,
            str(ts),
            nonce,
            hashlib.sha256(body).hexdigest(),
        )
    ).encode()


@dataclass(frozen=True)
class Signed:
    """What a verified header said: who signed (`key_id`), when (µs since the epoch) and the nonce."""

    key_id: str
    ts: int
    nonce: str


class Signer:
    """Signs requests with one private key. Timestamps never go backwards, even within a microsecond,
    so a verifier may also demand strictly increasing timestamps from one signer."""

    def __init__(self, key: Ed25519PrivateKey, key_id: str) -> None:
        self.key = key
        self.key_id = key_id
        self._last = 0
        self._lock = threading.Lock()

    def header(self, audience: str, method: str, target: str, body: bytes = b"") -> str:
        with self._lock:
            ts = max(now_us(), self._last + 1)
            self._last = ts
        nonce = secrets.token_hex(16)
        signature = self.key.sign(_message(audience, method, target, ts, nonce, body))
        return f"{SCHEME} key={self.key_id},ts={ts},nonce={nonce},sig={b64(signature)}"


def parse_header(header: str | None) -> tuple[Signed, bytes]:
    if not header:
        raise SignatureError(f"missing Authorization header: requests must be signed ({SCHEME})")
    match = _HEADER.match(header.strip())
    if not match:
        raise SignatureError(f"the Authorization header must use the {SCHEME} scheme")
    fields = dict(part.partition("=")[::2] for part in match.group(1).split(","))
    try:
        signed = Signed(fields["key"], int(fields["ts"]), fields["nonce"])
        signature = unb64(fields["sig"])
    except (KeyError, ValueError):
        raise SignatureError("malformed signature: it needs key, ts, nonce and sig") from None
    if not re.fullmatch(r"[0-9a-f]{16,64}", signed.nonce):
        raise SignatureError("malformed signature: the nonce must be 16 to 64 hex digits")
    return signed, signature


def verify(
    header: str | None,
    public_key: Ed25519PublicKey,
    *,
    audience: str,
    method: str,
    target: str,
    body: bytes,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    now: int | None = None,
) -> Signed:
    """Checks signature and freshness; replay protection (nonces, ordering) is the caller's."""
    signed, signature = parse_header(header)
    skew = abs((now if now is not None else now_us()) - signed.ts)
    if skew > window_seconds * 1_000_000:
        raise SignatureError(
            f"signature expired: its timestamp is {skew / 1e6:.0f} s from now "
            f"(allowed: {window_seconds} s)"
        )
    try:
        public_key.verify(
            signature, _message(audience, method, target, signed.ts, signed.nonce, body)
        )
    except InvalidSignature:
        raise SignatureError("signature does not verify for this request") from None
    return signed


class NonceCache:
    """Nonces seen within the window, so a captured request cannot be sent again (one process)."""

    def __init__(self, window_seconds: int = DEFAULT_WINDOW_SECONDS) -> None:
        self.window_us = window_seconds * 1_000_000
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def check(self, signed: Signed) -> None:
        current = now_us()
        with self._lock:
            if len(self._seen) > 1024:
                self._seen = {
                    n: t for n, t in self._seen.items() if current - t <= 2 * self.window_us
                }
            if signed.nonce in self._seen:
                raise SignatureError("signature replayed: this nonce was already used")
            self._seen[signed.nonce] = signed.ts
