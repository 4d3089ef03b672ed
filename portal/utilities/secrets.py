"""Generating and checking high-entropy secrets (tokens, robot secrets); only their hashes are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

# Secrets carry 256 bits of randomness, so one SHA-256 suffices (a slow hash buys nothing against
# brute force of such a space) and keeps token-authenticated requests fast.
SECRET_BYTES = 32
PREFIX_LENGTH = 12


def new_secret(label: str) -> str:
    return f"{label}_{secrets.token_urlsafe(SECRET_BYTES)}"


def hash_secret(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def verify_secret(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def display_prefix(secret: str) -> str:
    return secret[:PREFIX_LENGTH]
