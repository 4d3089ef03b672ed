"""Page-number pagination that takes the total from a counter when the view keeps one."""

from __future__ import annotations

from functools import cached_property, partial
from typing import Any

from django.core.paginator import Paginator

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
    """Asks the view's `known_count()` (None: count the rows) before paginating."""

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        known = view.known_count() if view is not None and hasattr(view, "known_count") else None
        self.django_paginator_class = partial(CountedPaginator, known_count=known)  # type: ignore[assignment]
        return super().paginate_queryset(queryset, request, view)
