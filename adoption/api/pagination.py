from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """Page-number pagination that validates ``page`` and ``page_size`` (400 when malformed;
    a page past the end is a 404)."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == self.page_size_query_param:
                param["schema"] |= {"minimum": 1, "maximum": self.max_page_size}
            elif param["name"] == self.page_query_param:
                param["schema"] |= {"minimum": 1}
        return params

    def get_page_size(self, request: Any) -> int | None:
        raw = request.query_params.getlist(self.page_size_query_param)
        if raw:
            if len(raw) > 1 or not raw[0].isdigit() or not 1 <= int(raw[0]) <= self.max_page_size:
                raise ValidationError(
                    {"errors": {"page_size": [f"A whole number from 1 to {self.max_page_size}."]}}
                )
        return super().get_page_size(request)

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        pages = request.query_params.getlist(self.page_query_param)
        if len(pages) > 1 or (pages and not (pages[0].isdigit() and int(pages[0]) >= 1)):
            raise ValidationError({"errors": {"page": ["A page number."]}})
        # A page past the end stays DRF's 404 (documented in the schema).
        return super().paginate_queryset(queryset, request, view)
