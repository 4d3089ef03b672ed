"""Security review of registry tokens: retired keys stop verifying, and a token request costs a fixed number of queries."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from portal.rbac.principals import AnonymousPrincipal
from portal.registry import tokens
from portal.registry.tokens import InvalidToken, KeyRing, TokenVerifier, issue


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


@pytest.mark.django_db
def test_many_scopes_cost_a_fixed_number_of_queries(make_user: Any, make_project: Any,
                                                    django_assert_max_num_queries: Any) -> None:
    from portal.rbac.principals import UserPrincipal
    from portal.registry.tokens import Scope, access_for

    user = make_user()
    make_project("kept", members={user: "developer"})
    make_project("shown", public=True)
    # What one anonymous 64 KiB token request can ask for: thousands of projects, each a query before.
    scopes = [Scope("repository", f"p{i}/app", ("pull",)) for i in range(2000)]
    scopes += [Scope("repository", "kept/app", ("pull", "push")), Scope("repository", "shown/app", ("pull", "push"))]

    with django_assert_max_num_queries(2):
        anonymous = access_for(AnonymousPrincipal(), scopes)
    with django_assert_max_num_queries(3):
        member = access_for(UserPrincipal(user), scopes)

    assert anonymous == [{"type": "repository", "name": "shown/app", "actions": ["pull"]}]
    assert member == [{"type": "repository", "name": "kept/app", "actions": ["pull", "push"]},
                      {"type": "repository", "name": "shown/app", "actions": ["pull"]}]
