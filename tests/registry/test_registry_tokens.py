"""Registry tokens without a server: scopes, the token principal's answers, keys and the verified-token cache."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from portal.rbac.principals import Resource
from portal.rbac.roles import Action, ProjectResource, SystemResource
from portal.registry.tokens import (
    InvalidToken,
    KeyRing,
    RepositoryResource,
    Scope,
    TokenPrincipal,
    TokenVerifier,
    parse_scopes,
)

PROJECT = SimpleNamespace(id=1, name="team", public=False)


def test_scopes_are_parsed_from_several_parameters_and_spaces() -> None:
    scopes = parse_scopes(["repository:team/app:pull,push registry:catalog:*", "repository(plugin):team/b:pull",
                           "garbage", "repository::pull"])

    assert scopes == [Scope("repository", "team/app", ("pull", "push")), Scope("registry", "catalog", ("*",)),
                      Scope("repository", "team/b", ("pull",))]


def test_a_token_principal_answers_per_repository_and_project_wide() -> None:
    principal = TokenPrincipal("dev", "user", [{"type": "repository", "name": "team/app", "actions": ["pull", "delete"]}],
                               time.time() + 60)

    assert principal.can(Action.PULL, RepositoryResource(ProjectResource.REPOSITORY, PROJECT, "team/app"))
    assert not principal.can(Action.PUSH, RepositoryResource(ProjectResource.REPOSITORY, PROJECT, "team/app"))
    assert not principal.can(Action.PULL, RepositoryResource(ProjectResource.REPOSITORY, PROJECT, "team/other"))
    assert principal.can(Action.DELETE, Resource.of_project(PROJECT, ProjectResource.TAG))
    assert not principal.can(Action.UPDATE, Resource.of_project(PROJECT, ProjectResource.PROJECT))
    assert not principal.can(Action.LIST, Resource.system(SystemResource.CATALOG))
    assert principal.kind == "user"
    assert principal.audit_name == "dev"


def test_keys_rotate_and_retire(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "keys")
    first = ring.signing_key()
    time.sleep(0.002)
    second = ring.rotate()
    time.sleep(0.002)
    third = ring.rotate()

    assert ring.signing_key().kid == third.kid
    assert ring.verification_key(first.kid) is not None
    assert sorted(ring.retire(keep=2)) == [first.kid]
    assert KeyRing(tmp_path / "keys").verification_key(first.kid) is None
    assert KeyRing(tmp_path / "keys").verification_key(second.kid) is not None
    assert sorted(p.stat().st_mode & 0o777 for p in (tmp_path / "keys").glob("*.pem")) == [0o600, 0o600]


def test_a_rotation_by_another_process_within_one_clock_tick_is_seen(tmp_path: Path) -> None:
    worker, command = KeyRing(tmp_path / "keys"), KeyRing(tmp_path / "keys")
    for _ in range(5):
        # No pause: the directory's time may not move between the two, the key must still.
        worker.signing_key()
        rotated = command.rotate()
        assert worker.signing_key().kid == rotated.kid


def test_the_verifier_caches_by_string_and_still_enforces_expiry(tmp_path: Path) -> None:
    from portal.rbac.principals import AnonymousPrincipal
    from portal.registry.tokens import issue

    ring = KeyRing(tmp_path / "keys")
    verifier = TokenVerifier(ring, max_entries=2)
    token, _, issued_at = issue(ring, AnonymousPrincipal(), [], 60)

    first = verifier.verify(token)
    assert verifier.verify(token) is first
    with pytest.raises(InvalidToken, match="token expired"):
        verifier.verify(token, now=issued_at + 61)
    with pytest.raises(InvalidToken):
        verifier.verify(token[:-4] + "AAAA")
