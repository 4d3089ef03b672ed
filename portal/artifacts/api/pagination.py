"""Page-number pagination for lists that reach 100,000 rows: counts from counters, pages by id first."""

from __future__ import annotations

from functools import cached_property, partial
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet

from portal.utilities.pagination import PageNumberPagination


class CountedPaginator(Paginator):
    """A Paginator told its count: no `SELECT COUNT(*)` over a 100,000-row repository per page."""

    def __init__(self, object_list: Any, per_page: int, *, known_count: int | None = None, **options: Any) -> None:
        super().__init__(object_list, per_page, **options)
        self.known_count = known_count

    @cached_property
    def count(self) -> int:
        if self.known_count is not None:
            return self.known_count
        return super().count


class CountedPagination(PageNumberPagination):
    """Asks the view's `known_count()` (None: count the rows), then pages in two steps.

    The page's ids come from an index-only scan (OFFSET skips index entries, not joined and annotated
    rows: PostgreSQL computes a skipped row's select list too); the full rows, with their joins,
    subqueries and prefetches, are then read for those 100 ids only.
    """

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        known = view.known_count() if view is not None and hasattr(view, "known_count") else None
        self.django_paginator_class = partial(CountedPaginator, known_count=known)  # type: ignore[assignment]
        if not isinstance(queryset, QuerySet):
            return super().paginate_queryset(queryset, request, view)
        ids = super().paginate_queryset(queryset.values_list("pk", flat=True), request, view)
        if ids is None:
            return None
        rows = {row.pk: row for row in queryset.order_by().filter(pk__in=ids)}
        return [rows[pk] for pk in ids if pk in rows]
