"""``GET /api/v1/search``: parse, call the search service, render. JWT or session, like every API view."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from docintel.api.schema import error_responses
from search.api.serializers import SearchParamsSerializer, SearchResponseSerializer
from search.services import search_run


class SearchView(APIView):
    """``GET /api/v1/search``: the readers' passage search over the API (the method's docstring is the schema's)."""

    @extend_schema(
        operation_id="search",
        parameters=[SearchParamsSerializer],
        responses={200: SearchResponseSerializer, **error_responses(400, 404, 503)},
        tags=["search"],
    )
    def get(self, request: Request) -> Response:
        """Passages and documents you may read that match ``q``, ranked like answering retrieves, highlighted.

        No language model is involved. Filters combine; an unknown or foreign document id answers 404, a page past
        the last one 404.
        """
        params = SearchParamsSerializer(data=request.query_params.dict())  # a plain dict: empty values are invalid
        params.is_valid(raise_exception=True)
        page = async_to_sync(search_run)(
            user=request.user,
            text=params.validated_data["q"],
            filters=params.filters(),
            page=params.validated_data["page"],
            page_size=params.validated_data["page_size"],
        )
        return Response(SearchResponseSerializer(page, context={"request": request}).data)
