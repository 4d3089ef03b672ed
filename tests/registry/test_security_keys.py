"""Security review of token keys: a retired key stops verifying in a running process, cached tokens included."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from portal.rbac.principals import AnonymousPrincipal
from registry_proxy import tokens
from registry_proxy.tokens import InvalidToken, KeyRing, TokenVerifier, issue


def test_a_token_signed_by_a_key_retired_in_another_process_stops_verifying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The key directory is looked at again at most once a second; a test should not wait for it.
    monkeypatch.setattr(tokens, "KEY_RECHECK_SECONDS", 0.0)
    serving = KeyRing(tmp_path / "keys")
    verifier = TokenVerifier(serving)
    # A long-lived token, as someone holding a leaked key would mint.
    token, _, _ = issue(serving, AnonymousPrincipal(), [], lifetime=365 * 86400)
    verifier.verify(token)
    time.sleep(0.002)

    # `manage.py rotate_registry_key` then `--retire`, run elsewhere: the serving process signs nothing meanwhile.
    command = KeyRing(tmp_path / "keys")
    command.rotate()
    command.retire(keep=1)

    with pytest.raises(InvalidToken, match="unknown key"):
        verifier.verify(token)
    with pytest.raises(InvalidToken, match="unknown key"):
        TokenVerifier(serving).verify(token)


def test_a_retired_key_stops_verifying_within_the_recheck_interval(tmp_path: Path) -> None:
    serving = KeyRing(tmp_path / "keys")
    verifier = TokenVerifier(serving)
    token, _, _ = issue(serving, AnonymousPrincipal(), [], lifetime=3600)
    verifier.verify(token)
    time.sleep(0.002)
    command = KeyRing(tmp_path / "keys")
    command.rotate()
    command.retire(keep=1)

    time.sleep(tokens.KEY_RECHECK_SECONDS + 0.1)

    with pytest.raises(InvalidToken, match="unknown key"):
        verifier.verify(token)
