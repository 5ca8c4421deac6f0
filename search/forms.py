"""The search page's form: the query and its filters, with the choices the reader may use."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from documents.models import Document
from search.services import SearchFilters
from search.services.query import MAX_QUERY_CHARS

MAX_DOCUMENT_CHOICES = 300


class _DateInput(forms.DateInput):
    """A date field the browser shows as a date picker (``<input type="date">``, ISO dates)."""

    input_type = "date"


class SearchForm(forms.Form):
    """The search page's query and filters; the document and group choices are only those the reader may use.

    Documents: those visible to the reader (at most ``MAX_DOCUMENT_CHOICES``, by title). Access groups: all of
    them for a librarian, else the reader's own.
    """

    q = forms.CharField(label=_("Search"), max_length=MAX_QUERY_CHARS, required=False, strip=True)
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("Any language")), ("el", _("Greek")), ("en", _("English")), ("mixed", _("Mixed"))],
    )
    document = forms.TypedChoiceField(label=_("Document"), required=False, coerce=int, empty_value=None)
    group = forms.TypedChoiceField(label=_("Access group"), required=False, coerce=int, empty_value=None)
    uploaded_from = forms.DateField(label=_("Uploaded from"), required=False, widget=_DateInput)
    uploaded_to = forms.DateField(label=_("Uploaded until"), required=False, widget=_DateInput)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        """Bind the form like any Django form and fill the document and group choices for ``user``.

        Args:
            *args: Django's form arguments (the query dict, ...).
            user: the reader whose documents and groups are offered.
            **kwargs: Django's form keyword arguments.
        """
        super().__init__(*args, **kwargs)
        documents = Document.objects.visible_to(user).order_by("title", "id").values_list("pk", "title")
        groups = (
            Group.objects.all() if getattr(user, "is_librarian", False) else Group.objects.filter(user=user)
        ).order_by("name")
        document_field = self.fields["document"]
        group_field = self.fields["group"]
        assert isinstance(document_field, forms.TypedChoiceField)
        assert isinstance(group_field, forms.TypedChoiceField)
        document_field.choices = [("", _("All documents")), *documents[:MAX_DOCUMENT_CHOICES]]
        group_field.choices = [("", _("All my groups")), *groups.values_list("pk", "name")]

    def clean(self) -> dict[str, Any]:
        """Check the upload-date range: an end before the start is an error on the end date."""
        data = super().clean() or {}
        start, end = data.get("uploaded_from"), data.get("uploaded_to")
        if start and end and start > end:
            self.add_error("uploaded_to", _("The end date is before the start date."))
        return data

    def filters(self) -> SearchFilters:
        """The cleaned filters as the search service's filters (call after ``is_valid``)."""
        data = self.cleaned_data
        return SearchFilters(
            language=data.get("language") or "",
            document_id=data.get("document"),
            group_id=data.get("group"),
            uploaded_from=data.get("uploaded_from"),
            uploaded_to=data.get("uploaded_to"),
        )
