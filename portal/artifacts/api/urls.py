"""Routes of the browse API. Repository names may hold `/` (sent plain or as %2F, which Django decodes
before routing): the anchored suffixes below tell the repository from what follows it."""

from django.urls import path, re_path

from portal.artifacts.api import views

PROJECT = r"^projects/(?P<project_name>[^/]+)/repositories"
REPOSITORY = PROJECT + r"/(?P<repository_name>.+?)"
REFERENCE = REPOSITORY + r"/artifacts/(?P<reference>[^/]+)"

urlpatterns = [
    path("repositories", views.RepositorySearch.as_view(), name="repository-search"),
    re_path(PROJECT + r"$", views.RepositoryList.as_view(), name="repository-list"),
    re_path(REFERENCE + r"/tags/(?P<tag>[^/]+)$", views.TagDetail.as_view(), name="tag-detail"),
    re_path(REFERENCE + r"/tags$", views.ArtifactTagList.as_view(), name="artifact-tag-list"),
    re_path(REFERENCE + r"$", views.ArtifactDetail.as_view(), name="artifact-detail"),
    re_path(REPOSITORY + r"/artifacts$", views.ArtifactList.as_view(), name="artifact-list"),
    re_path(REPOSITORY + r"/tags$", views.RepositoryTagList.as_view(), name="repository-tag-list"),
    re_path(PROJECT + r"/(?P<repository_name>.+)$", views.RepositoryDetail.as_view(), name="repository-detail"),
]
