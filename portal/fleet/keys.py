"""The portal's Ed25519 key for signing requests to agents, derived from the shared secret key.

Every portal process and worker derives the same key from BERTH_SECRET_KEY, so none has to store
or distribute it, and agents verify requests from any of them with the one public key they got
when they joined.
"""

from __future__ import annotations

from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from runtime_agent.agent.signing import Signer, public_key_text

KEY_ID = "portal"


@cache
def _key(secret: str) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"berth-fleet", info=b"agent-requests v1").derive(
        secret.encode()
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def portal_key() -> Ed25519PrivateKey:
    return _key(settings.SECRET_KEY)


def portal_signer() -> Signer:
    return Signer(portal_key(), KEY_ID)


def portal_public_key() -> str:
    return public_key_text(portal_key())
