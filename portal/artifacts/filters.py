"""Filters and sorting for repository, artifact and tag lists."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from portal.artifacts.kinds import Kind
from portal.artifacts.models import Artifact, Repository, Tag


class RepositoryFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=512)

    class Meta:
        model = Repository
        fields = ["q"]


class ArtifactFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(method="filter_tag", max_length=128)
    q = django_filters.CharFilter(method="filter_q", max_length=128)
    media_type = django_filters.CharFilter()
    artifact_type = django_filters.CharFilter()
    kind = django_filters.ChoiceFilter(choices=Kind.choices)

    class Meta:
        model = Artifact
        fields = ["tag", "q", "media_type", "artifact_type", "kind"]

    def filter_tag(self, queryset: QuerySet[Artifact], name: str, value: str) -> QuerySet[Artifact]:
        return queryset.filter(Exists(Tag.objects.filter(artifact=OuterRef("pk"), name=value)))

    def filter_q(self, queryset: QuerySet[Artifact], name: str, value: str) -> QuerySet[Artifact]:
        """A part of a tag name, or the start of a digest (with or without `sha256:`)."""
        tagged = Exists(Tag.objects.filter(artifact=OuterRef("pk"), name__icontains=value))
        digest = value if ":" in value else f"sha256:{value}"
        return queryset.filter(tagged | Q(digest__startswith=digest.lower()))


class TagFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", max_length=128)

    class Meta:
        model = Tag
        fields = ["q"]


class StrictOrderingFilter(OrderingFilter):
    """`sort=field,-field`: unknown fields are a 400, and a tie-breaker keeps pages stable."""

    def get_ordering(self, request: Any, queryset: QuerySet[Any], view: Any) -> list[str]:
        raw = request.query_params.get(self.ordering_param)
        allowed = list(view.ordering_fields)
        if raw:
            wanted = [part.strip() for part in raw.split(",") if part.strip()]
            unknown = [part for part in wanted if part.lstrip("-") not in allowed]
            if unknown or not wanted:
                raise ValidationError({self.ordering_param: [
                    f"cannot sort by {', '.join(unknown) or repr(raw)}; choose from {', '.join(allowed)} "
                    "(prefix - for descending)"]})
            ordering = wanted
        else:
            ordering = list(view.ordering)
        last = ordering[-1]
        if last.lstrip("-") not in getattr(view, "unique_ordering_fields", ()):
            ordering.append("-id" if last.startswith("-") else "id")
        return ordering
