"""Encrypting credentials Berth must use again (deploy-time secrets, webhook secrets, registry and LDAP passwords).

Values are Fernet tokens (AES-128-CBC with HMAC-SHA256, timestamped) under the keys of
`settings.ENCRYPTION_KEYS`: the first key encrypts, every key decrypts, so a key is rotated by putting
a new one first and keeping the old ones until `rotate` has re-encrypted what they protect.
Credentials Berth only checks are hashed instead (`portal.utilities.secrets`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from portal.utilities.env import ConfigurationError


class DecryptionError(Exception):
    """A stored value none of the configured keys opens: its key was removed, or the value was altered."""


def new_key() -> str:
    return Fernet.generate_key().decode()


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ConfigurationError("BERTH_ENCRYPTION_KEYS holds no key")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            # The key itself is never echoed: this message reaches logs.
            raise ConfigurationError(
                f"BERTH_ENCRYPTION_KEYS: key {position} is not a Fernet key (32 url-safe base64-encoded bytes, "
                "as `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` prints)"
            ) from None
    return MultiFernet(fernets)


def check_keys(keys: Sequence[str]) -> list[str]:
    """The keys, once each is known to be usable: the settings module calls it so a bad key stops start-up."""
    _fernet(tuple(keys))
    return list(keys)


def _configured(keys: Sequence[str] | None) -> MultiFernet:
    if keys is None:
        from django.conf import settings

        keys = settings.ENCRYPTION_KEYS
    return _fernet(tuple(keys))


def encrypt(plaintext: str, keys: Sequence[str] | None = None) -> str:
    return _configured(keys).encrypt(plaintext.encode()).decode()


def decrypt(token: str, keys: Sequence[str] | None = None) -> str:
    try:
        return _configured(keys).decrypt(token.encode()).decode()
    except (InvalidToken, UnicodeDecodeError):
        raise DecryptionError("no configured encryption key opens this value (was its key removed?)") from None


def rotate(token: str, keys: Sequence[str] | None = None) -> str:
    """The value re-encrypted under the first key, so older keys can then be retired."""
    try:
        return _configured(keys).rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("no configured encryption key opens this value (was its key removed?)") from None
