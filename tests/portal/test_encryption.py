"""The encryption of credentials Berth uses again: MultiFernet keys from settings, rotated without loss."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from portal.utilities import encryption
from portal.utilities.env import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


def key() -> str:
    return Fernet.generate_key().decode()


def test_a_value_round_trips_and_is_not_stored_in_clear() -> None:
    keys = [key()]
    token = encryption.encrypt("s3cr3t value", keys)
    assert "s3cr3t" not in token
    assert encryption.decrypt(token, keys) == "s3cr3t value"


def test_old_ciphertext_stays_readable_after_a_new_key_is_added() -> None:
    old, new = key(), key()
    token = encryption.encrypt("s3cr3t", [old])
    assert encryption.decrypt(token, [new, old]) == "s3cr3t"
    # The new key, being first, encrypts from now on: the old one alone no longer opens new values.
    with pytest.raises(encryption.DecryptionError):
        encryption.decrypt(encryption.encrypt("fresh", [new, old]), [old])


def test_rotating_re_encrypts_under_the_first_key_so_the_old_one_can_go() -> None:
    old, new = key(), key()
    rotated = encryption.rotate(encryption.encrypt("s3cr3t", [old]), [new, old])
    assert encryption.decrypt(rotated, [new]) == "s3cr3t"


def test_a_value_no_key_opens_is_a_clear_error() -> None:
    token = encryption.encrypt("s3cr3t", [key()])
    with pytest.raises(encryption.DecryptionError, match=r"^no configured encryption key opens this value \(was its key removed\?\)$"):
        encryption.decrypt(token, [key()])
    with pytest.raises(encryption.DecryptionError):
        encryption.decrypt(token[:-4] + "AAAA", [key()])


def test_a_malformed_key_is_refused_without_being_echoed() -> None:
    with pytest.raises(ConfigurationError, match="BERTH_ENCRYPTION_KEYS: key 2 is not a Fernet key") as refused:
        encryption.check_keys([key(), "not-a-key-at-all"])
    assert "not-a-key-at-all" not in str(refused.value)


def test_the_settings_encrypt_with_their_first_key(settings) -> None:
    first, second = key(), key()
    settings.ENCRYPTION_KEYS = [first, second]
    assert encryption.decrypt(encryption.encrypt("s3cr3t"), [first]) == "s3cr3t"


SHOW_KEYS = "import django; django.setup(); from django.conf import settings; print(','.join(settings.ENCRYPTION_KEYS))"


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    clean.update(DJANGO_SETTINGS_MODULE="portal.settings", BERTH_VAR_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-c", SHOW_KEYS], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=60)


def test_development_generates_a_key_under_the_var_dir_once(tmp_path: Path) -> None:
    first = start(tmp_path)
    assert first.returncode == 0, first.stderr
    stored = tmp_path / "encryption_key"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert first.stdout.strip() == stored.read_text().strip()
    Fernet(stored.read_text().strip())
    assert start(tmp_path).stdout == first.stdout


def test_production_requires_the_keys(tmp_path: Path) -> None:
    refused = start(tmp_path, BERTH_PRODUCTION="true", BERTH_SECRET_KEY="k" * 50)
    assert refused.returncode != 0
    assert "BERTH_ENCRYPTION_KEYS is required when BERTH_PRODUCTION is true" in refused.stderr
    new, old = key(), key()
    given = start(tmp_path, BERTH_PRODUCTION="true", BERTH_SECRET_KEY="k" * 50, BERTH_ENCRYPTION_KEYS=f"{new}, {old}")
    assert given.returncode == 0, given.stderr
    assert given.stdout.strip() == f"{new},{old}"
    assert not (tmp_path / "encryption_key").exists()


def test_a_malformed_key_stops_start_up(tmp_path: Path) -> None:
    result = start(tmp_path, BERTH_ENCRYPTION_KEYS="guessable")
    assert result.returncode != 0
    assert "BERTH_ENCRYPTION_KEYS: key 1 is not a Fernet key" in result.stderr
    assert "guessable" not in result.stderr
