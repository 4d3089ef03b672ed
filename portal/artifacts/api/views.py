"""Browsing repositories, artifacts and tags; deletes go through the services, which check and audit."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple
from urllib.parse import unquote

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api.base import ProjectScopedMixin, TokenScopePermission
from portal.artifacts import services
from portal.artifacts.api.pagination import CountedPagination
from portal.artifacts.api.serializers import (
    ArtifactDeletedSerializer,
    ArtifactDetailSerializer,
    ArtifactSummarySerializer,
    RepositorySerializer,
    RepositoryTagSerializer,
    TagSerializer,
)
from portal.artifacts.filters import (
    ArtifactFilter,
    RepositoryFilter,
    StrictOrderingFilter,
    TagFilter,
)
from portal.artifacts.manifests import is_digest, is_tag
from portal.artifacts.models import LISTED, Artifact, ArtifactReference, Repository, Tag
from portal.projects.models import Project
from portal.rbac.principals import Resource
from portal.rbac.roles import Action, ProjectResource
from portal.utilities.errors import NotFound

LAST = OpenApiParameter("last", str, description="Keyset paging: the tags after this name (sorting by name).")
# How many of an artifact's tags a list shows (with the total); the tag list has them all.
TAGS_IN_SUMMARY = 10
TAGS_IN_DETAIL = 100
# Likewise its accessories: signing on every deploy can give an image thousands of signatures.
ACCESSORIES_IN_SUMMARY = 10
ACCESSORIES_IN_DETAIL = 100


class ReadPermission(TokenScopePermission):
    """Reads need the view's (action, resource) in the project; deletes are checked by the services."""

    def has_permission(self, request: Any, view: Any) -> bool:
        super().has_permission(request, view)
        if request.method in ("GET", "HEAD", "OPTIONS"):
            view.require(view.read_action, view.project_resource)
        else:
            view.get_project()  # a project the caller cannot see is a 404 before anything else
        return True


class BrowseView(ProjectScopedMixin, generics.GenericAPIView):
    permission_classes = [ReadPermission]
    filter_backends: list[Any] = []
    pagination_class = None
    read_action: Action = Action.READ
    project_resource = ProjectResource.REPOSITORY

    def get_repository(self) -> Repository:
        cached = getattr(self, "_repository", None)
        if cached is None:
            # Django has already decoded %2F to `/`; a second decoding accepts Harbor's double-encoded
            # names (%252F), the way to reach a repository whose path contains `artifacts` or `tags`.
            cached = services.repository_in(self.get_project(), unquote(self.kwargs["repository_name"]))
            self._repository = cached
        return cached

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if "repository_name" in self.kwargs:
            context["repository"] = self.get_repository()
        return context


class ListView(mixins.ListModelMixin, BrowseView):
    filter_backends = [DjangoFilterBackend, StrictOrderingFilter]
    pagination_class = CountedPagination
    unique_ordering_fields: tuple[str, ...] = ()

    def filtered(self) -> bool:
        return any(self.request.query_params.get(name) for name in self.filterset_class.base_filters)

    def known_count(self) -> int | None:
        return None

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)


@extend_schema_view(get=extend_schema(operation_id="repositories_of_project_list"))
class RepositoryList(ListView):
    """Repositories of a project: `q` searches names; sort by name, push, pulls, size or artifact count."""

    queryset = Repository.objects.none()  # for the schema; get_queryset() builds the real one
    serializer_class = RepositorySerializer
    filterset_class = RepositoryFilter
    read_action = Action.LIST
    ordering_fields = ["name", "pushed_at", "pull_count", "last_pulled_at", "size", "artifact_count",
                       "tag_count", "created_at", "updated_at"]
    ordering = ["name"]
    unique_ordering_fields = ("name",)

    def get_queryset(self) -> QuerySet[Repository]:
        return Repository.objects.filter(project=self.get_project()).select_related("project")


@extend_schema_view(get=extend_schema(operation_id="repositories_search"))
class RepositorySearch(ListView):
    """Repositories across every project the caller may list repositories of."""

    queryset = Repository.objects.none()  # for the schema; get_queryset() builds the real one
    serializer_class = RepositorySerializer
    filterset_class = RepositoryFilter
    permission_classes = [TokenScopePermission]
    ordering_fields = RepositoryList.ordering_fields
    ordering = ["name"]
    unique_ordering_fields = ("name",)

    def get_queryset(self) -> QuerySet[Repository]:
        principal = self.request.user
        repositories = Repository.objects.select_related("project")
        if principal.is_system_admin:
            return repositories
        projects = list(Project.objects.visible_to(principal).only("id", "name", "public"))
        if hasattr(principal, "preload_roles"):
            principal.preload_roles([project.id for project in projects])  # one query, not one per project
        allowed = [project.id for project in projects
                   if principal.can(Action.LIST, Resource.of_project(project, ProjectResource.REPOSITORY))]
        return repositories.filter(project_id__in=allowed)


class RepositoryDetail(BrowseView):
    serializer_class = RepositorySerializer

    @extend_schema(operation_id="repository_retrieve")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_repository()).data)

    @extend_schema(operation_id="repository_destroy", responses={204: None})
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.delete_repository(request.user, self.get_project(), self.get_repository(),
                                   source_ip=self.source_ip())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TagRow(NamedTuple):
    name: str
    pushed_at: Any
    last_pulled_at: Any


def summary_queryset(queryset: QuerySet[Artifact]) -> QuerySet[Artifact]:
    """Artifacts without their big columns; `attach_summaries` adds the rest once the page is known."""
    return queryset.defer("manifest", "config", "annotations", "labels")


def attach_summaries(artifacts: list[Artifact]) -> list[Artifact]:
    """Each artifact's newest tags, its children's platforms and its newest accessories: three queries for
    the whole page, read as tuples (model instances would cost more than the queries)."""
    ids = [artifact.pk for artifact in artifacts]
    tags: dict[int, list[TagRow]] = defaultdict(list)
    platforms: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        newest = Window(RowNumber(), partition_by=[F("artifact_id")], order_by=[F("pushed_at").desc(), F("id").desc()])
        ranked = (Tag.objects.filter(artifact_id__in=ids).annotate(rank=newest).filter(rank__lte=TAGS_IN_SUMMARY)
                  .order_by("artifact_id", "rank").values_list("artifact_id", "name", "pushed_at", "last_pulled_at"))
        for artifact_id, *row in ranked:
            tags[artifact_id].append(TagRow(*row))
        links = (ArtifactReference.objects.filter(parent_id__in=ids).order_by("parent_id", "position")
                 .values_list("parent_id", "platform"))
        for parent_id, platform in links:
            if platform:
                platforms[parent_id].append(platform)
    found = services.accessories(artifacts[0].repository_id, [a.digest for a in artifacts],
                                 ACCESSORIES_IN_SUMMARY) if artifacts else {}
    for artifact in artifacts:
        artifact.first_tags = tags[artifact.pk]  # type: ignore[attr-defined]
        artifact.child_platforms = platforms[artifact.pk]  # type: ignore[attr-defined]
        attach_accessories(artifact, found)
    return artifacts


def attach_accessories(artifact: Artifact, found: dict[str, tuple[int, list[services.Accessory]]]) -> None:
    count, items = found.get(artifact.digest, (0, []))
    artifact.accessory_count = count  # type: ignore[attr-defined]
    artifact.first_accessories = items  # type: ignore[attr-defined]


@extend_schema_view(get=extend_schema(operation_id="artifacts_list", parameters=[OpenApiParameter(
    "before", str, description="Keyset paging: the artifacts pushed before this digest (newest first).")]))
class ArtifactList(ListView):
    """Artifacts of a repository (children of an index and referrers appear under their parent).
    Filter with `tag` (exact) or `q` (part of a tag, or a digest prefix); `before=DIGEST` pages by keyset."""

    queryset = Artifact.objects.none()  # for the schema; get_queryset() builds the real one
    serializer_class = ArtifactSummarySerializer
    filterset_class = ArtifactFilter
    read_action = Action.LIST
    project_resource = ProjectResource.ARTIFACT
    ordering_fields = ["pushed_at", "created", "size", "pull_count", "last_pulled_at", "digest"]
    ordering = ["-pushed_at"]
    unique_ordering_fields = ("digest",)

    def get_queryset(self) -> QuerySet[Artifact]:
        artifacts = Artifact.objects.filter(repository=self.get_repository())
        if not self.request.query_params.get("tag"):
            artifacts = artifacts.filter(LISTED)
        return summary_queryset(self.older_than_before(artifacts))

    def older_than_before(self, artifacts: QuerySet[Artifact]) -> QuerySet[Artifact]:
        """`before=DIGEST`: the artifacts pushed before that one (newest first), a keyset page."""
        before = self.request.query_params.get("before")
        if not before:
            return artifacts
        from rest_framework.exceptions import ValidationError

        if self.request.query_params.get("sort", "-pushed_at") != "-pushed_at":
            raise ValidationError({"before": ["before= pages newest first: use it without sort, or sort=-pushed_at"]})
        anchor = None
        if is_digest(before):
            anchor = Artifact.objects.filter(repository=self.get_repository(), digest=before).values_list(
                "pushed_at", "id").first()
        if anchor is None:
            raise ValidationError({"before": [f"no artifact {before!r} in this repository"]})
        pushed_at, artifact_id = anchor
        # `pushed_at <= anchor` bounds the index scan; the rest breaks ties as (pushed_at, id) < anchor.
        return artifacts.filter(Q(pushed_at__lte=pushed_at) & (Q(pushed_at__lt=pushed_at) | Q(id__lt=artifact_id)))

    def known_count(self) -> int | None:
        # The counter is kept with the rows: a 100,000-artifact repository needs no COUNT per page.
        return None if self.filtered() else self.get_repository().artifact_count

    def paginate_queryset(self, queryset: Any) -> list[Artifact] | None:
        page = super().paginate_queryset(queryset)
        return None if page is None else attach_summaries(list(page))


class ArtifactDetail(BrowseView):
    """An artifact by digest or tag."""

    serializer_class = ArtifactDetailSerializer
    project_resource = ProjectResource.ARTIFACT

    @extend_schema(operation_id="artifact_retrieve")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        repository = self.get_repository()
        artifact = services.resolve_artifact(repository, self.kwargs["reference"])
        artifact.first_tags = list(artifact.tags.order_by("-pushed_at", "-id")[:TAGS_IN_DETAIL])  # type: ignore[attr-defined]
        links = list(ArtifactReference.objects.filter(parent=artifact).select_related("child").only(
            "parent_id", "platform", "annotations", "position", "child__digest", "child__media_type", "child__size",
            "child__kind"))
        artifact.child_platforms = [link.platform for link in links if link.platform]  # type: ignore[attr-defined]
        children = [{"digest": link.child.digest, "media_type": link.child.media_type, "size": link.child.size,
                     "kind": link.child.kind, "platform": link.platform, "annotations": link.annotations}
                    for link in links]
        attach_accessories(artifact, services.accessories(repository, [artifact.digest], ACCESSORIES_IN_DETAIL))
        parents = list(Artifact.objects.filter(child_links__child=artifact).values_list("digest", flat=True))
        context = {**self.get_serializer_context(), "children": children, "parents": parents,
                   "referrers": services.referrers(repository.name, artifact.digest)}
        return Response(ArtifactDetailSerializer(artifact, context=context).data)

    @extend_schema(operation_id="artifact_destroy", responses={200: ArtifactDeletedSerializer},
                   parameters=[OpenApiParameter("force", bool, description="Delete even if a guard would refuse.")])
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        force = request.query_params.get("force", "").lower() in ("1", "true", "yes")
        removed = services.delete_artifact(request.user, self.get_project(), self.get_repository(),
                                           self.kwargs["reference"], force=force, source_ip=self.source_ip())
        return Response({"deleted": removed}, status=status.HTTP_200_OK)


@extend_schema_view(get=extend_schema(operation_id="artifact_tags_list", parameters=[LAST]))
class ArtifactTagList(ListView):
    """The tags of one artifact."""

    queryset = Tag.objects.none()  # for the schema; get_queryset() builds the real one
    serializer_class = TagSerializer
    filterset_class = TagFilter
    read_action = Action.LIST
    project_resource = ProjectResource.TAG
    ordering_fields = ["name", "pushed_at", "last_pulled_at"]
    ordering = ["name"]
    unique_ordering_fields = ("name",)

    def get_artifact(self) -> Artifact:
        cached = getattr(self, "_artifact", None)
        if cached is None:
            cached = self._artifact = services.resolve_artifact(self.get_repository(), self.kwargs["reference"])
        return cached

    def known_count(self) -> int | None:
        return None if self.filtered() else self.get_artifact().tag_count

    def get_queryset(self) -> QuerySet[Tag]:
        return after(Tag.objects.filter(artifact=self.get_artifact()), self.request).select_related("artifact").only(
            "name", "pushed_at", "last_pulled_at", "artifact__digest", "artifact__kind")


def after(queryset: QuerySet[Tag], request: Request) -> QuerySet[Tag]:
    """`last=NAME`: the tags after NAME in name order, a keyset page that costs the same at any depth."""
    last = request.query_params.get("last")
    if not last:
        return queryset
    from rest_framework.exceptions import ValidationError

    if request.query_params.get("sort", "name") != "name":
        raise ValidationError({"last": ["last= pages by name: use it without sort, or with sort=name"]})
    if not is_tag(last):
        raise ValidationError({"last": ["last= is a tag name: up to 128 of A-Z a-z 0-9 _ . -"]})
    return queryset.filter(name__gt=last)


@extend_schema_view(get=extend_schema(operation_id="repository_tags_list", parameters=[LAST]))
class RepositoryTagList(ListView):
    """Every tag of a repository, with its artifact's digest and size: the list that must stay fast
    at 100,000 tags (covering indexes on (repository, name) and (repository, pushed_at, id)).
    `last=NAME` pages by keyset: the tags after NAME."""

    queryset = Tag.objects.none()  # for the schema; get_queryset() builds the real one
    serializer_class = RepositoryTagSerializer
    filterset_class = TagFilter
    read_action = Action.LIST
    project_resource = ProjectResource.TAG
    ordering_fields = ["name", "pushed_at", "last_pulled_at"]
    ordering = ["name"]
    unique_ordering_fields = ("name",)

    def get_queryset(self) -> QuerySet[Tag]:
        return after(Tag.objects.filter(repository=self.get_repository()), self.request).select_related(
            "artifact").only("name", "pushed_at", "last_pulled_at", "artifact__digest", "artifact__media_type",
                             "artifact__size", "artifact__kind")

    def known_count(self) -> int | None:
        return None if self.filtered() else self.get_repository().tag_count


class TagDetail(BrowseView):
    """DELETE a tag of an artifact (the artifact stays)."""

    project_resource = ProjectResource.TAG
    serializer_class = TagSerializer

    @extend_schema(operation_id="artifact_tag_destroy", responses={204: None})
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        tag = services.validate_tag(self.kwargs["tag"])
        repository = self.get_repository()
        artifact = services.resolve_artifact(repository, self.kwargs["reference"])
        if not Tag.objects.filter(artifact=artifact, name=tag).exists():
            raise NotFound(f"artifact {artifact.digest} has no tag {tag!r}", code="tag_not_found")
        services.delete_tag(request.user, repository, tag, source_ip=self.source_ip())
        return Response(status=status.HTTP_204_NO_CONTENT)
