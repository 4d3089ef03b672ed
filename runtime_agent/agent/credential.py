"""The agent's credential: its private key, its host id and the portal's public key, kept 0600."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from runtime_agent.agent.signing import load_private_key, load_public_key

FILE_NAME = "credential.json"


@dataclass
class Credential:
    portal_url: str
    host_id: str
    name: str
    private_key: str
    portal_public_key: str
    advertise: str
    heartbeat_seconds: float = 5.0

    @property
    def key(self) -> Ed25519PrivateKey:
        return load_private_key(self.private_key)

    @property
    def portal_key(self) -> Ed25519PublicKey:
        return load_public_key(self.portal_public_key)


def path_in(state_dir: Path) -> Path:
    return Path(state_dir) / "agent" / FILE_NAME


def load(state_dir: Path) -> Credential | None:
    try:
        data = json.loads(path_in(state_dir).read_text())
    except FileNotFoundError:
        return None
    return Credential(**data)


def save(state_dir: Path, credential: Credential) -> Path:
    """Written to a 0600 file created beside the target, then renamed over it: never readable by others."""
    path = path_in(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(credential), out)
    os.replace(tmp, path)
    return path


def forget(state_dir: Path) -> None:
    path_in(state_dir).unlink(missing_ok=True)
