"""The role table and the principals that answer `can(action, resource)`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.projects.models import Project
from portal.rbac.principals import (
    AnonymousPrincipal,
    Resource,
    RobotPrincipal,
    SignInRequired,
    UserPrincipal,
    require,
)
from portal.rbac.roles import (
    ALL_PROJECT_PERMISSIONS,
    ROBOT_GRANTABLE,
    ROLE_ORDER,
    ROLE_PERMISSIONS,
    Action,
    ProjectResource,
    Role,
    SystemResource,
    permission_label,
)
from portal.utilities.errors import Forbidden

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


def test_each_role_strictly_contains_the_next():
    for stronger, weaker in zip(ROLE_ORDER, ROLE_ORDER[1:], strict=False):
        assert ROLE_PERMISSIONS[weaker] < ROLE_PERMISSIONS[stronger], (stronger, weaker)


def test_robots_can_never_be_granted_people_management():
    managed = {ProjectResource.MEMBER, ProjectResource.ROBOT}
    assert not {resource for resource, _ in ROBOT_GRANTABLE} & managed
    assert ROBOT_GRANTABLE <= ALL_PROJECT_PERMISSIONS
    assert ROBOT_GRANTABLE.issubset(ROLE_PERMISSIONS[Role.PROJECT_ADMIN])


def test_permission_labels():
    assert permission_label((ProjectResource.TAG_RULE, Action.CREATE)) == "tag-rule:create"


def test_user_principal_by_role(make_user, make_project):
    dev = make_user()
    project = make_project(members={dev: "developer"})
    principal = UserPrincipal(dev)
    assert principal.can("push", Resource.of_project(project, "repository"))
    assert not principal.can("delete", Resource.of_project(project, "repository"))
    assert principal.role_in(project) is Role.DEVELOPER


def test_role_lookups_are_cached_per_principal(make_user, make_project, django_assert_num_queries):
    user = make_user()
    project = make_project(members={user: "guest"})
    principal = UserPrincipal(user)
    with django_assert_num_queries(1):
        for _ in range(5):
            principal.can("pull", Resource.of_project(project, "repository"))


def test_remembered_roles_need_no_query(make_user, make_project, django_assert_num_queries):
    user = make_user()
    project = make_project(members={user: "maintainer"})
    principal = UserPrincipal(user)
    principal.remember_roles({project.id: Role.MAINTAINER})
    with django_assert_num_queries(0):
        assert principal.can("delete", Resource.of_project(project, "artifact"))


def test_system_admin_can_everything(make_user, make_project):
    principal = UserPrincipal(make_user(admin=True))
    project = make_project()
    assert principal.can("delete", Resource.of_project(project, "project"))
    assert principal.can("create", Resource.system(SystemResource.USER))
    assert principal.effective_permissions(project) == ALL_PROJECT_PERMISSIONS


def test_signed_in_users_may_list_usernames_but_not_read_user_records(make_user):
    principal = UserPrincipal(make_user())
    assert principal.can("list", Resource.system("user"))
    assert not principal.can("read", Resource.system("user"))
    assert not principal.can("create", Resource.system("robot"))


def test_public_project_grants_limited_guest_rights_to_everyone(make_project):
    project = make_project(public=True)
    anonymous = AnonymousPrincipal()
    assert anonymous.can("pull", Resource.of_project(project, "repository"))
    assert not anonymous.can("push", Resource.of_project(project, "repository"))
    assert not anonymous.can("list", Resource.of_project(project, "member"))
    assert list(Project.objects.visible_to(anonymous)) == [project]


def test_robot_answers_from_its_list_only(make_project, make_robot):
    granted_project = make_project("granted")
    other = make_project("other")
    robot, _ = make_robot(project=granted_project, permissions=[("repository", "pull")])
    principal = RobotPrincipal(robot)
    assert principal.can("pull", Resource.of_project(granted_project, "repository"))
    assert not principal.can("push", Resource.of_project(granted_project, "repository"))
    assert not principal.can("pull", Resource.of_project(other, "repository"))
    assert not principal.can("list", Resource.system("project"))
    assert list(Project.objects.visible_to(principal)) == [granted_project]


def test_system_robot_with_a_wildcard_sees_every_project(make_project, make_robot):
    projects = [make_project(), make_project()]
    robot, _ = make_robot(permissions=[("*", "repository", "pull")])
    principal = RobotPrincipal(robot)
    assert all(principal.can("pull", Resource.of_project(p, "repository")) for p in projects)
    assert set(Project.objects.visible_to(principal)) == set(projects)


@pytest.mark.parametrize("state", ["disabled", "expired"])
def test_unusable_robot_holds_nothing(make_project, make_robot, state):
    project = make_project()
    fields = {"disabled": True} if state == "disabled" else {"expires_at": timezone.now() - timedelta(seconds=1)}
    robot, _ = make_robot(project=project, permissions=[("repository", "pull")], **fields)
    principal = RobotPrincipal(robot)
    assert not principal.can("pull", Resource.of_project(project, "repository"))
    assert principal.is_active is False


def test_require_names_what_was_refused(make_user, make_project):
    project = make_project("team")
    with pytest.raises(Forbidden) as refused:
        require(UserPrincipal(make_user("ann")), "delete", Resource.of_project(project, "project"))
    assert refused.value.message == "ann may not delete project in project team"


def test_require_asks_anonymous_callers_to_sign_in(make_project):
    project = make_project(public=True)
    with pytest.raises(SignInRequired) as refused:
        require(AnonymousPrincipal(), "push", Resource.of_project(project, "repository"))
    assert refused.value.status_code == 401 and isinstance(refused.value, Forbidden)
    assert refused.value.message == "sign in to push repository"
