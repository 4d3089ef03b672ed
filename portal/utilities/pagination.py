"""Pagination with a total count and page sizes up to 1000."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return settings.MAX_PAGE_SIZE

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size or settings.REST_FRAMEWORK["PAGE_SIZE"]
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError({"page_size": [f"must be a whole number from 1 to {self.max_page_size}"]}) from None
        if not 1 <= size <= self.max_page_size:
            raise ValidationError({"page_size": [f"must be from 1 to {self.max_page_size}, not {size}"]})
        return size

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        raw = request.query_params.get(self.page_query_param, "1")
        if not raw.isdigit() or int(raw) < 1:
            raise ValidationError({"page": ["must be a whole number from 1"]})
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        assert self.page is not None
        response = Response(
            {
                "count": self.page.paginator.count,
                "page": self.page.number,
                "page_size": self.page.paginator.per_page,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )
        response["X-Total-Count"] = str(self.page.paginator.count)
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        base = super().get_paginated_response_schema(schema)
        base["properties"]["page"] = {"type": "integer"}
        base["properties"]["page_size"] = {"type": "integer"}
        base["required"] = ["count", "results"]
        return base
