"""Directory sign-in in a real browser: an administrator adds an LDAP source and tests it, a project admin
gives a directory group a role, and a user of a nested group signs in with the directory password and sees the project."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from portal.projects.models import Member, Project
from tests.fixtures.portal import PASSWORD
from tests.support import openldap as ldap
from tests.ui.conftest import sign_in

pytestmark = pytest.mark.browser


def test_an_admin_adds_an_ldap_source_and_a_nested_group_member_signs_in(
    open_page: Callable[..., Any], make_user: Callable[..., Any], screenshot: Callable[..., Any],
    openldap: ldap.OpenLDAP,
) -> None:  # fmt: skip
    from portal.accounts.authentication import forget_verified_passwords
    from portal.accounts.models import AuthSource
    from portal.audit.models import AuditEntry

    forget_verified_passwords()
    make_user("root", admin=True)
    owner = make_user("olga")
    project = Project.objects.create(name="platform-app")
    Member.objects.create(project=project, user=owner, role="project_admin")

    admin = open_page()
    sign_in(admin, "root", PASSWORD)
    admin.get_by_role("link", name="Authentication").click()
    expect(admin.get_by_role("heading", name="No directory yet")).to_be_visible()
    admin.get_by_label("Name", exact=True).fill("corp")
    admin.get_by_label("Server URL").fill(openldap.url)
    admin.get_by_label("Bind DN").fill(ldap.ADMIN_DN)
    admin.get_by_label("Bind password").fill(ldap.ADMIN_PASSWORD)
    admin.get_by_label("User search base").fill(ldap.PEOPLE)
    admin.get_by_label("Group search base").fill(ldap.GROUPS)
    admin.get_by_role("button", name="Add directory").click()
    card = admin.get_by_role("region", name="Source corp")
    expect(card).to_contain_text("bind password set")
    card.get_by_label("User to look up in corp").fill("bob")
    card.get_by_role("button", name="Test").click()
    expect(card.get_by_role("status")).to_contain_text(f"Found {ldap.person_dn('bob')} (Bob Builder, bob@berth.test)")
    expect(card.get_by_role("status")).to_contain_text(ldap.group_dn("developers").lower())
    screenshot(admin, "authentication-sources")
    assert ldap.ADMIN_PASSWORD not in admin.content()
    assert AuthSource.objects.get(name="corp").settings["urls"] == [openldap.url]
    assert AuditEntry.objects.filter(action="test", resource_type="auth_source", resource="corp", actor="root").exists()
    assert admin.js_errors == []

    project_admin = open_page()
    sign_in(project_admin, "olga", PASSWORD)
    project_admin.goto("/projects/platform-app/members")
    groups = project_admin.get_by_role("region", name="Groups")
    groups.get_by_label("Source").fill("corp")
    groups.get_by_label("Group DN").fill(ldap.group_dn("developers"))
    groups.get_by_label("Group role").select_option("developer")
    groups.get_by_role("button", name="Add group").click()
    expect(groups.get_by_role("row", name=re.compile(ldap.group_dn("developers").lower()))).to_contain_text("Developer")
    screenshot(project_admin, "project-group-members")
    assert project_admin.js_errors == []

    # bob is in platform, which is in developers.
    bob = open_page()
    sign_in(bob, "bob", ldap.PASSWORD)
    bob.goto("/projects")
    expect(bob.get_by_role("link", name="platform-app")).to_be_visible()
    bob.goto("/account/profile")
    expect(bob.get_by_text("bob+corp").first).to_be_visible()
    assert bob.js_errors == []
