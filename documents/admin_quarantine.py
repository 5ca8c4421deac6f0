"""The librarians' review list of quarantined passages: the flagged text, the rule that fired, release or hold."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from docintel.context import ActorContext
from documents.models import QuarantinedPassage
from documents.services.quarantine import chunk_quarantine, chunk_release


class QuarantineStateFilter(admin.SimpleListFilter):
    """The review list's "state" filter: passages still held out of retrieval, or released by a librarian."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        """The filter's two choices, with their labels.

        Args:
            request: the admin request.
            model_admin: the admin the filter belongs to.

        Returns:
            ``(value, label)`` pairs: ``held`` and ``released``.
        """
        return [("held", _("held out of retrieval")), ("released", _("released"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Narrow the list to held or to released passages.

        Args:
            request: the admin request.
            queryset: the flagged passages.

        Returns:
            The passages in the chosen state, or all of them when no choice is made.
        """
        if self.value() == "held":
            return queryset.filter(released_at__isnull=True)
        if self.value() == "released":
            return queryset.filter(released_at__isnull=False)
        return queryset


@admin.register(QuarantinedPassage)
class QuarantinedPassageAdmin(admin.ModelAdmin[QuarantinedPassage]):
    """Flagged passages, held ones first. Releasing lets retrieval use the passage again (audited)."""

    list_display = ("excerpt", "injection_rule", "document_link", "location_display", "state", "released_by")
    list_filter = (QuarantineStateFilter, "document__language")
    search_fields = ("text", "injection_rule", "document__title")
    list_select_related = ("document", "released_by")
    actions = ("release", "hold")
    fields = (
        "document_link",
        "location_display",
        "heading_display",
        "injection_rule",
        "state",
        "released_at",
        "released_by",
        "text",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[QuarantinedPassage]:
        """Flagged passages of documents not being deleted: held ones first, then newest first.

        Args:
            request: the admin request.

        Returns:
            The queryset of the review list.
        """
        return (
            super()
            .get_queryset(request)
            .filter(injection_flag=True, document__deleted_at__isnull=True)
            .order_by(F("released_at").desc(nulls_first=True), "-id")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Nobody flags a passage here: ingestion's scan or the review queue does.

        Args:
            request: the admin request.

        Returns:
            Always False.
        """
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody deletes a passage here: it goes with its document (delete or re-ingest that).

        Args:
            request: the admin request.
            obj: the passage, or None on the list.

        Returns:
            Always False.
        """
        return False

    @admin.display(description=_("text"))
    def excerpt(self, obj: QuarantinedPassage) -> str:
        """Column "text": the first 200 characters of the flagged passage, with an ellipsis when cut."""
        return obj.text[:200] + ("…" if len(obj.text) > 200 else "")

    @admin.display(description=_("document"))
    def document_link(self, obj: QuarantinedPassage) -> str:
        """Column "document": the passage's document, linked to its admin page."""
        url = reverse("admin:documents_document_change", args=[obj.document_id])
        return format_html('<a href="{}">{}</a>', url, obj.document.title)

    @admin.display(description=_("where"))
    def location_display(self, obj: QuarantinedPassage) -> str:
        """Column "where": the passage's page range or, without pages, its heading."""
        return obj.location

    @admin.display(description=_("heading"))
    def heading_display(self, obj: QuarantinedPassage) -> str:
        """Field "heading": the passage's heading path, joined with ``›``."""
        return obj.heading

    @admin.display(description=_("state"))
    def state(self, obj: QuarantinedPassage) -> str:
        """Column "state": "held out of retrieval" or "released"."""
        return str(_("held out of retrieval") if obj.quarantined else _("released"))

    @admin.action(description=_("Release: let retrieval use these passages"), permissions=["change"])
    def release(self, request: HttpRequest, queryset: QuerySet[QuarantinedPassage]) -> None:
        """Action: let retrieval use the selected held passages again (each release audited, its vector updated).

        Passages already released are skipped; the message counts the ones released now.

        Args:
            request: the admin request (the librarian who releases).
            queryset: the selected passages.
        """
        count = 0
        for chunk in queryset.filter(released_at__isnull=True):
            chunk_release(chunk=chunk, ctx=ActorContext.from_request(request))
            count += 1
        self.message_user(
            request,
            ngettext("%(n)d passage released.", "%(n)d passages released.", count) % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Hold again: keep these passages out of retrieval"), permissions=["change"])
    def hold(self, request: HttpRequest, queryset: QuerySet[QuarantinedPassage]) -> None:
        """Action: hold the selected released passages out of retrieval again, under the rule that first flagged them.

        Passages already held are skipped; the message counts the ones held now.

        Args:
            request: the admin request (the librarian who holds them).
            queryset: the selected passages.
        """
        count = 0
        for chunk in queryset.filter(released_at__isnull=False):
            chunk_quarantine(chunk=chunk, ctx=ActorContext.from_request(request), rule=chunk.injection_rule)
            count += 1
        self.message_user(
            request,
            ngettext("%(n)d passage held.", "%(n)d passages held.", count) % {"n": count},
            messages.SUCCESS,
        )
