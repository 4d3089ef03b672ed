"""Routes of the fleet API. Artifact routes come before the browse API's catch-all repository route."""

from django.urls import path, re_path

from portal.fleet.api import views

CONTAINER = "projects/<str:project_name>/containers/<str:container>"

urlpatterns = [
    path("hosts", views.HostList.as_view(), name="host-list"),
    path("hosts/join-tokens", views.JoinTokenList.as_view(), name="join-token-list"),
    path("hosts/join-tokens/<int:token_id>", views.JoinTokenDetail.as_view(), name="join-token-detail"),
    path("hosts/join", views.JoinView.as_view(), name="host-join"),
    path("hosts/heartbeat", views.HeartbeatView.as_view(), name="host-heartbeat"),
    path("hosts/<str:name>", views.HostDetail.as_view(), name="host-detail"),
    path("hosts/<str:name>/containers", views.HostContainers.as_view(), name="host-containers"),
    path("projects/<str:project_name>/containers", views.ContainerList.as_view(), name="container-list"),
    path(CONTAINER, views.ContainerDetail.as_view(), name="container-detail"),
    path(CONTAINER + "/logs", views.ContainerLogs.as_view(), name="container-logs"),
    path(CONTAINER + "/exec", views.ContainerExec.as_view(), name="container-exec"),
    path(CONTAINER + "/stats", views.ContainerStats.as_view(), name="container-stats"),
    re_path(
        r"^projects/(?P<project_name>[^/]+)/containers/(?P<container>[^/]+)/(?P<action>stop|restart)$",
        views.ContainerAction.as_view(),
        name="container-action",
    ),
    re_path(
        r"^projects/(?P<project_name>[^/]+)/repositories/(?P<repository_name>.+?)/artifacts/(?P<reference>[^/]+)/containers$",
        views.ArtifactContainers.as_view(),
        name="artifact-containers",
    ),
]
