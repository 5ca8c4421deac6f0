"""Pagination of the app APIs."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class StrictPageNumberPagination(PageNumberPagination):
    """Page numbers as DRF counts them, except that an empty or repeated ``page`` is an invalid page (404)."""

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        """The ``page`` query value as DRF reads it, once it is given at most once and not empty.

        Raises:
            NotFound: ``page`` is empty (``?page=``) or repeated (``?page=1&page=2``).
        """
        values = request.query_params.getlist(self.page_query_param)
        if values and (len(values) > 1 or not values[0]):
            raise NotFound(self.invalid_page_message.format(page_number=values[-1], message="not a page number"))
        return super().get_page_number(request, paginator)
