"""Routes of the robots API."""

from django.urls import path

from portal.robots.api.views import ProjectRobotViewSet, SystemRobotViewSet

LIST = {"get": "list", "post": "create"}
DETAIL = {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
SECRET = {"post": "refresh_secret"}

urlpatterns = [
    path("robots", SystemRobotViewSet.as_view(LIST), name="system-robot-list"),
    path("robots/<str:robot>", SystemRobotViewSet.as_view(DETAIL), name="system-robot-detail"),
    path("robots/<str:robot>/secret", SystemRobotViewSet.as_view(SECRET), name="system-robot-secret"),
    path("projects/<str:project_name>/robots", ProjectRobotViewSet.as_view(LIST), name="project-robot-list"),
    path("projects/<str:project_name>/robots/<str:robot>", ProjectRobotViewSet.as_view(DETAIL),
         name="project-robot-detail"),
    path("projects/<str:project_name>/robots/<str:robot>/secret", ProjectRobotViewSet.as_view(SECRET),
         name="project-robot-secret"),
]
