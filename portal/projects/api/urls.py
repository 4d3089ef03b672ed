"""Routes of the projects API."""

from django.urls import path

from portal.projects.api.views import GroupMemberViewSet, MemberViewSet, ProjectViewSet

projects = ProjectViewSet.as_view({"get": "list", "post": "create"})
project = ProjectViewSet.as_view({"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"})
group_members = GroupMemberViewSet.as_view({"get": "list", "post": "create"})
group_member = GroupMemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"})
members = MemberViewSet.as_view({"get": "list", "post": "create"})
member = MemberViewSet.as_view({"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"})

urlpatterns = [
    path("projects", projects, name="project-list"),
    path("projects/<str:name>", project, name="project-detail"),
    path("projects/<str:project_name>/members", members, name="member-list"),
    path("projects/<str:project_name>/group-members", group_members, name="group-member-list"),
    path("projects/<str:project_name>/group-members/<int:member_id>", group_member, name="group-member-detail"),
    path("projects/<str:project_name>/members/<str:username>", member, name="member-detail"),
]
