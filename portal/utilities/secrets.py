"""Generating and checking secrets Berth only verifies (tokens, robot secrets); only their hashes are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.contrib.auth.hashers import check_password, make_password

# Generated secrets carry 256 bits of randomness, so one SHA-256 suffices (a slow hash buys nothing against
# brute force of such a space) and keeps token-authenticated requests fast. Its `sha256$` prefix is also the
# stored-format marker: any other stored value is one of Django's salted password hashes (`scrypt$…`).
SECRET_BYTES = 32
PREFIX_LENGTH = 12
FAST_HASH_MARKER = "sha256$"


def new_secret(label: str) -> str:
    return f"{label}_{secrets.token_urlsafe(SECRET_BYTES)}"


def hash_secret(secret: str) -> str:
    """The stored form of a generated (random) secret."""
    return FAST_HASH_MARKER + hashlib.sha256(secret.encode()).hexdigest()


def hash_chosen_secret(secret: str) -> str:
    """The stored form of a secret a person chose, which may be guessable: salted and slow, as passwords are."""
    return make_password(secret)


def is_fast_hash(stored_hash: str) -> bool:
    return stored_hash.startswith(FAST_HASH_MARKER)


def verify_secret(secret: str, stored_hash: str) -> bool:
    if is_fast_hash(stored_hash):
        return hmac.compare_digest(hash_secret(secret), stored_hash)
    # No setter: a stored hash is replaced only by the services that write secrets.
    return check_password(secret, stored_hash)


def spend_slow_hash(secret: str) -> None:
    """The work of checking a chosen secret, done when there is none to check, so the time a refusal takes
    does not tell whether the account exists or how its secret is stored."""
    make_password(secret)


def display_prefix(secret: str) -> str:
    return secret[:PREFIX_LENGTH]
