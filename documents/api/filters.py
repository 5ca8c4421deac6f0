"""Query-parameter filters of the documents API (django-filter), rendered into the OpenAPI schema by drf-spectacular.

The list keeps the rules it had when it filtered by hand: a parameter that is present must be valid, an empty value
included (``?language=`` is a 400, not "no filter"), and a reader's ``?group=`` is no oracle for the groups they are
not in.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field

from documents.models import Document


class StrictFilterForm(forms.Form):
    """A filter form that refuses a parameter given with an empty value, where Django forms would read "absent".

    API clients send exactly what they mean; ``?status=`` is a mistake worth a 400 rather than the whole list.
    """

    def clean(self) -> dict[str, Any]:
        """Add a ``required`` error for each known parameter present with an empty value.

        Returns:
            The cleaned data, as :meth:`django.forms.Form.clean` returns it.
        """
        cleaned: dict[str, Any] = super().clean() or {}
        for name in self.fields:
            if name in self.data and self.data.get(name) in ("", None) and name not in self.errors:
                self.add_error(name, forms.ValidationError(_("This field may not be blank."), code="blank"))
        return cleaned


@extend_schema_field(
    {
        "type": "integer",
        "minimum": 1,
        "description": "Id of an access group; for a reader, one of their own groups (any other id: no documents).",
    }
)
class AccessGroupFilter(django_filters.Filter):
    """An access group's id: a whole number of at least 1 (``min_value=1`` at the use)."""

    field_class = forms.IntegerField


# the form field's rules, stated in the schema: not empty (StrictFilterForm), at most 16 characters, no NUL
@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 16, "pattern": "^[^\\u0000]+$"})
class LanguageFilter(django_filters.CharFilter):
    """A document's language code as stored (``el``, ``en``, ``mixed``); at most 16 characters (``max_length``)."""


class DocumentFilterSet(django_filters.FilterSet):
    """``?status=``, ``?language=`` and ``?group=`` of ``GET /api/v1/documents/``; all optional, combined with AND."""

    status = django_filters.ChoiceFilter(choices=Document.Status.choices)
    language = LanguageFilter(max_length=16)
    group = AccessGroupFilter(method="filter_group", min_value=1)

    class Meta:
        """The model filtered, the parameters in order, and the strict form."""

        model = Document
        fields = ("status", "language", "group")
        form = StrictFilterForm

    def filter_group(self, queryset: QuerySet[Document], name: str, value: int) -> QuerySet[Document]:
        """Documents shared with group ``value``; for a reader only one of their own groups, else none.

        A reader filtering by another group's id gets an empty list: otherwise the filter would tell which of the
        documents they may see are also shared with a group they are not in.

        Args:
            queryset: the documents the user may see.
            name: the parameter's name (``group``).
            value: the group's id.

        Returns:
            The documents shared with that group, or none.
        """
        user = self.request.user if self.request is not None else None
        if getattr(user, "is_librarian", False) or value in getattr(user, "group_ids", frozenset()):
            return queryset.filter(access_groups=value)
        return queryset.none()
