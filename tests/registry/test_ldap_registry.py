"""Directory users at the registry: `podman login` with the LDAP password, a push by group role, refusals."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.fixtures.registry import Berth
from tests.support.openldap import PASSWORD, group_dn, person_dn


def test_podman_login_with_the_directory_password_then_push_by_group_role(
    berth: Berth, make_ldap_source: Any, make_project: Any, image_layouts: Any, tmp_path: Path
) -> None:
    from portal.projects.models import GroupMember

    source = make_ldap_source()
    project = make_project("team")
    # bob is in platform, which is in developers.
    GroupMember.objects.create(project=project, source=source, group=group_dn("developers").lower(), role="developer")
    authfile = tmp_path / "auth.json"

    login = berth.podman("login", "--tls-verify=false", "--authfile", str(authfile), "-u", "bob", "-p", PASSWORD,
                         berth.host)
    assert "Login Succeeded" in login.stdout
    berth.push(image_layouts.single, "team/app:1", None, "--authfile", str(authfile))

    assert berth.direct().tags("team/app") == ["1"]
    claims = berth.claims(berth.token(("bob", PASSWORD), "repository:team/app:pull,push"))
    assert claims["sub"] == "bob+corp"
    assert claims["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]


def test_podman_login_with_a_wrong_directory_password_fails(berth: Berth, make_ldap_source: Any, tmp_path: Path) -> None:
    make_ldap_source()

    result = berth.podman("login", "--tls-verify=false", "--authfile", str(tmp_path / "auth.json"), "-u", "bob",
                          "-p", "not-the-password", berth.host, check=False)

    assert result.returncode != 0
    assert "invalid username/password" in result.stderr


def test_a_user_taken_out_of_the_group_can_no_longer_push_after_the_cache_period(
    berth: Berth, make_ldap_source: Any, make_project: Any, image_layouts: Any, fresh_directory: Any,
    settings: Any,
) -> None:
    from portal.projects.models import GroupMember

    settings.LDAP_CACHE_SECONDS = 1
    source = make_ldap_source()
    project = make_project("team")
    GroupMember.objects.create(project=project, source=source, group=group_dn("platform").lower(), role="developer")
    berth.push(image_layouts.single, "team/app:1", ("bob", PASSWORD))

    fresh_directory.modify(f"dn: {group_dn('platform')}\nchangetype: modify\ndelete: member\nmember: {person_dn('bob')}\n"
                           f"-\nadd: member\nmember: {person_dn('carol')}\n")
    time.sleep(1.1)
    refused = berth.push(image_layouts.multilayer, "team/app:2", ("bob", PASSWORD), check=False)

    assert refused.returncode != 0
    assert berth.direct().tags("team/app") == ["1"]
