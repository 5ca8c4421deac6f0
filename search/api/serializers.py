"""Search API: the query parameters and the response, as the OpenAPI file shows them."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from docintel.api.fields import StrictCharField
from docintel.params import MAX_ID, int_param
from search.services import SearchFilters, SearchHit, SearchPage
from search.services.query import MAX_PAGE_SIZE, MAX_QUERY_CHARS

MAX_PAGE = 10_000


class StrictIntegerParam(serializers.IntegerField):
    """A number from the query string: plain ASCII digits within range (:func:`docintel.params.int_param`).

    DRF's own field also takes ``1.0``, ``+1`` or `` 1``; an id is digits and nothing else.
    """

    def to_internal_value(self, data: Any) -> int:
        """The number ``data`` spells, within the field's bounds (1 to ``MAX_ID`` unless the field sets others).

        Raises:
            ValidationError: ``data`` is not a string of ASCII digits within the bounds (``invalid``).
        """
        minimum = 1 if self.min_value is None else int(self.min_value)
        maximum = MAX_ID if self.max_value is None else int(self.max_value)
        value = int_param(data if isinstance(data, str) else None, minimum=minimum, maximum=maximum)
        if value is None:
            self.fail("invalid")
        assert value is not None  # fail() raises
        return value


class StrictDateParam(serializers.DateField):
    """A day as ``YYYY-MM-DD`` and nothing else (RFC 3339 ``full-date``, as the schema says).

    DRF's own field also takes ``2026-1-1`` and ``20260101`` (``date.fromisoformat``), which the schema refuses.
    """

    _FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

    def to_internal_value(self, value: Any) -> date:
        """The day ``value`` names, written exactly ``YYYY-MM-DD``.

        Raises:
            ValidationError: another spelling, or no such day (``invalid``).
        """
        if not isinstance(value, str) or not self._FULL_DATE.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DD")
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail("invalid", format="YYYY-MM-DD")


class SearchParamsSerializer(serializers.Serializer[None]):
    """Query parameters of ``GET /api/v1/search``."""

    q = StrictCharField(
        not_blank=True,
        max_length=MAX_QUERY_CHARS,
        help_text="What to look for, Greek or English: accents, case, final sigma and inflection do not matter.",
    )
    language = serializers.ChoiceField(
        choices=[("el", "Greek"), ("en", "English"), ("mixed", "Mixed")],
        required=False,
        help_text="Only passages in this language.",
    )
    document = StrictIntegerParam(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this document (one you may read, else 404)."
    )
    group = StrictIntegerParam(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Only documents shared with this access group; for a reader, one of their own (any other: no hits).",
    )
    uploaded_from = StrictDateParam(required=False, help_text="Only documents uploaded on or after this day.")
    uploaded_to = StrictDateParam(required=False, help_text="Only documents uploaded on or before this day.")
    page = StrictIntegerParam(required=False, min_value=1, max_value=MAX_PAGE, default=1, help_text="1-based.")
    page_size = StrictIntegerParam(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=10, help_text="Hits per page."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Check the upload-date range across the two fields.

        Raises:
            ValidationError: ``uploaded_from`` is after ``uploaded_to`` (reported on ``uploaded_from``).
        """
        start, end = attrs.get("uploaded_from"), attrs.get("uploaded_to")
        if start and end and start > end:
            raise serializers.ValidationError({"uploaded_from": ["Must not be after uploaded_to."]})
        return attrs

    def filters(self) -> SearchFilters:
        """The validated parameters as the search service's filters (call after ``is_valid``)."""
        data = self.validated_data
        return SearchFilters(
            language=data.get("language", ""),
            document_id=data.get("document"),
            group_id=data.get("group"),
            uploaded_from=data.get("uploaded_from"),
            uploaded_to=data.get("uploaded_to"),
        )


class HighlightSerializer(serializers.Serializer[None]):
    """One match in a result's ``text``: ``text[start:end]`` is the matched word or phrase as written."""

    start = serializers.IntegerField(help_text="Offset in ``text`` of the first character of the match.")
    end = serializers.IntegerField(help_text="Offset in ``text`` just past the match.")


class SearchResultSerializer(serializers.Serializer[SearchHit]):
    """A passage found: where it sits in its document, its matches, and the source view at that passage."""

    chunk_id = serializers.IntegerField()
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    language = serializers.CharField(help_text="el, en, mixed, or empty when unknown.")
    uploaded_at = serializers.DateTimeField(help_text="When the document was uploaded.")
    page = serializers.IntegerField(allow_null=True, help_text="First page (or slide) of the passage.")
    page_end = serializers.IntegerField(allow_null=True, help_text="Last page (or slide) of the passage.")
    heading = serializers.CharField(help_text="The headings above the passage, outermost first, joined by ›.")
    location = serializers.CharField(help_text="Page range, or the heading for documents without pages.")
    score = serializers.FloatField(help_text="Fused retrieval score (the ranking of answering), higher is better.")
    dense_score = serializers.FloatField(allow_null=True, help_text="Similarity in meaning (cosine).")
    keyword_score = serializers.FloatField(allow_null=True, help_text="Keyword (sparse, IDF) score.")
    text = serializers.CharField(help_text="The whole passage as stored.")
    highlights = serializers.SerializerMethodField(help_text="Where ``text`` matches the query, in order.")
    snippet_html = serializers.CharField(help_text="An excerpt around the matches: escaped text, matches in <mark>.")
    source_url = serializers.CharField(help_text="The portal's source view at this passage (same-origin path).")

    @extend_schema_field(HighlightSerializer(many=True))
    def get_highlights(self, hit: SearchHit) -> list[dict[str, int]]:
        """The hit's match spans as ``{"start", "end"}`` objects, in order."""
        return [{"start": start, "end": end} for start, end in hit.highlights]


class SearchDocumentSerializer(serializers.Serializer[None]):
    """A document among all the results (not only this page)."""

    id = serializers.IntegerField(source="document_id")
    title = serializers.CharField()
    language = serializers.CharField()
    uploaded_at = serializers.DateTimeField()
    hits = serializers.IntegerField(help_text="Its passages among the results.")
    best_score = serializers.FloatField()
    source_url = serializers.CharField(help_text="The source view at its best passage.")


class SearchResponseSerializer(serializers.Serializer[SearchPage]):
    """One page of results: its passages, every document among all results, the count, links to the pages beside it.

    ``next`` and ``previous`` repeat the request with another ``page`` (null at either end).
    """

    query = serializers.CharField()
    count = serializers.IntegerField(help_text="Passages found (at most SEARCH_MAX_RESULTS).")
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    num_pages = serializers.IntegerField()
    next = serializers.SerializerMethodField()
    previous = serializers.SerializerMethodField()
    took_ms = serializers.FloatField(help_text="Time the search took on the server.")
    documents = SearchDocumentSerializer(many=True)
    results = SearchResultSerializer(many=True, source="hits")

    def _link(self, page: SearchPage, number: int) -> str:
        """The absolute URL of this request with ``page`` set to ``number``."""
        request = self.context["request"]
        params = request.query_params.copy()
        params["page"] = str(number)
        return str(request.build_absolute_uri(f"{request.path}?{params.urlencode()}"))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_next(self, page: SearchPage) -> str | None:
        """The next page's URL, or None on the last page."""
        return self._link(page, page.page + 1) if page.has_next else None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_previous(self, page: SearchPage) -> str | None:
        """The previous page's URL, or None on the first page."""
        return self._link(page, page.page - 1) if page.has_previous else None
