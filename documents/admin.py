"""The librarian's home: upload, watch ingestion, re-ingest, delete, set who may read what."""

from __future__ import annotations

from typing import Any

import structlog
from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation
from django.contrib.auth.models import Group
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from docintel.admin_audit import AuditedAdminMixin
from docintel.context import ActorContext
from docintel.errors import DocIntelError
from documents import admin_quarantine  # noqa: F401 - registers the review list of quarantined passages
from documents.admin_upload import DocumentUploadAdminMixin
from documents.admin_versions import DocumentVersionsAdminMixin, VersionStateFilter
from documents.models import Chunk, Document
from documents.services.lifecycle import (
    document_access_set,
    document_delete,
    document_reingest,
    document_reocr,
)
from documents.services.ocr import ocr_engine_for

log = structlog.get_logger(__name__)


class ChunkInline(admin.TabularInline[Chunk, Document]):
    """The passages of a document on its change page, read-only: where each sits, its heading, text and flags.

    Chunks come only from ingestion; a librarian changes them by re-ingesting or re-OCR-ing the document.
    """

    model = Chunk
    extra = 0
    can_delete = False
    show_change_link = False
    fields = ("ordinal", "location_display", "heading_display", "excerpt", "token_count", "language", "injection_flag")
    readonly_fields = fields
    verbose_name_plural = _("chunks (read-only)")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody adds a passage by hand: chunks are produced by ingestion only.

        Args:
            request: the admin request.
            obj: the document being shown, or None.

        Returns:
            Always False.
        """
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody edits a passage by hand: re-ingest the document to change its chunks.

        Args:
            request: the admin request.
            obj: the document being shown, or None.

        Returns:
            Always False.
        """
        return False

    @admin.display(description=_("where"))
    def location_display(self, obj: Chunk) -> str:
        """Column "where": the passage's page range (``p. 3``, ``pp. 3-4``) or, without pages, its heading."""
        return obj.location

    @admin.display(description=_("heading"))
    def heading_display(self, obj: Chunk) -> str:
        """Column "heading": the passage's heading path, joined with ``›``."""
        return obj.heading

    @admin.display(description=_("text"))
    def excerpt(self, obj: Chunk) -> str:
        """Column "text": the first 300 characters of the passage, with an ellipsis when cut."""
        return obj.text[:300] + ("…" if len(obj.text) > 300 else "")


@admin.register(Document)
class DocumentAdmin(
    DocumentVersionsAdminMixin, DocumentUploadAdminMixin, AuditedAdminMixin, admin.ModelAdmin[Document]
):
    """The librarians' document list and page: upload, watch ingestion live, re-ingest, re-OCR, delete, set readers.

    The list shows every version not being deleted, with status and progress repainted live from the workers' events
    (polling as a fallback) and pages, chunks and language filled in when ingestion ends. Every change goes through a
    lifecycle service: uploads through the upload view (no plain add form), deletions through ``document_delete``
    (vectors, chunks and file, never a bare row delete), access-group changes audited and synced to the vectors.
    """

    list_display = (
        "title",
        "version_display",
        "status_badge",
        "progress_bar",
        "language",
        "file_type",
        "page_count",
        "chunk_count",
        "groups_display",
        "uploaded_by",
        "created_at",
    )
    list_display_links = ("title",)
    list_filter = (
        "status",
        VersionStateFilter,
        "language",
        ("access_groups", admin.RelatedOnlyFieldListFilter),
        ("uploaded_by", admin.RelatedOnlyFieldListFilter),
        "mime_type",
    )
    search_fields = ("title", "original_filename", "sha256")
    list_select_related = ("uploaded_by",)
    list_per_page = 50
    date_hierarchy = "created_at"
    actions = ("reingest_selected", "reocr_tesseract", "reocr_easyocr", "reocr_surya", "delete_selected_documents")
    inlines = (ChunkInline,)
    filter_horizontal = ("access_groups",)
    fieldsets = (
        (None, {"fields": ("title", "language", "access_groups")}),
        (
            _("Ingestion"),
            {
                "fields": (
                    "status_badge",
                    "stage",
                    "progress_bar",
                    "error_display",
                    "attempts",
                    "parser",
                    "page_count",
                    "ocr_confidence_display",
                    "family_display",
                    "ingest_info",
                    "processed_at",
                )
            },
        ),
        (
            _("File"),
            {"fields": ("original_filename", "mime_type", "size_bytes", "sha256", "uploaded_by", "created_at")},
        ),
        (_("Versions"), {"fields": ("versions_display",)}),
    )
    readonly_fields = (
        "status_badge",
        "stage",
        "progress_bar",
        "error_display",
        "attempts",
        "parser",
        "page_count",
        "ocr_confidence_display",
        "family_display",
        "ingest_info",
        "processed_at",
        "original_filename",
        "mime_type",
        "size_bytes",
        "sha256",
        "uploaded_by",
        "created_at",
        "versions_display",
    )

    class Media:
        """The live progress script (WebSocket, polling fallback) and the badge and progress-bar styles."""

        css = {"all": ("css/admin.css",)}
        js = ("js/admin_progress.js",)

    # --- queryset: a constant number of queries per list page ---------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet[Document]:
        """Documents not being deleted (every version), with the chunk count and access groups.

        The chunk count is one annotation and the groups one prefetch, so a list page costs a constant number of queries
        however many rows it shows.

        Args:
            request: the admin request.

        Returns:
            The queryset of the list and the change page.
        """
        queryset: QuerySet[Document] = (
            super()
            .get_queryset(request)
            .filter(deleted_at__isnull=True)
            .annotate(num_chunks=Count("chunks", distinct=True))
            .prefetch_related(Prefetch("access_groups", queryset=Group.objects.only("id", "name").order_by("name")))
        )
        return queryset

    # --- columns -----------------------------------------------------------------------------------------------
    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Document) -> str:
        """Column "status": a coloured badge the progress script repaints when the worker reports a new status."""
        return format_html(
            '<span class="di-badge di-badge-{}" data-document-status="{}">{}</span>',
            obj.status,
            obj.pk,
            obj.get_status_display(),
        )

    @admin.display(description=_("progress"))
    def progress_bar(self, obj: Document) -> str:
        """Column "progress": a progress bar and the stage with its percentage, repainted live.

        The progress script finds the row by ``data-document-id`` and follows only rows whose ``data-status`` is still
        queued or processing.
        """
        return format_html(
            '<span class="di-progress" data-document-id="{}" data-status="{}">'
            '<progress max="100" value="{}"></progress> <span class="di-stage">{} {}%</span></span>',
            obj.pk,
            obj.status,
            obj.progress,
            obj.get_stage_display(),
            obj.progress,
        )

    @admin.display(description=_("type"), ordering="mime_type")
    def file_type(self, obj: Document) -> str:
        """Column "type": the MIME type's last part (``pdf``, ``sheet``, ``plain``), at most 12 characters."""
        return obj.mime_type.rsplit("/", 1)[-1].rsplit(".", 1)[-1][:12]

    @admin.display(description=_("chunks"))
    def chunk_count(self, obj: Document) -> int:
        """Column "chunks": the number of passages, from the queryset's annotation (0 on a row loaded without it)."""
        return int(getattr(obj, "num_chunks", 0))

    @admin.display(description=_("access groups"))
    def groups_display(self, obj: Document) -> str:
        """Column "access groups": the groups whose members may read the document, or "librarians only" when none."""
        groups = list(obj.access_groups.all())
        if not groups:
            return format_html('<span class="di-muted">{}</span>', _("librarians only"))
        return format_html_join(", ", "{}", ((g.name,) for g in groups))

    @admin.display(description=_("OCR confidence"))
    def ocr_confidence_display(self, obj: Document) -> str:
        """Field "OCR confidence": the engine, each page's recognition confidence in percent, and the engine's note.

        The note says why another engine than the one asked for read the scan (EasyOCR has no Greek model). A dash for a
        document that was not OCR-ed.
        """
        info = obj.ingest_info or {}
        scores = info.get("ocr_confidence") or {}
        note = info.get("ocr_note") or ""
        if not scores and not note:
            return "—"
        engine = info.get("ocr_engine") or ""
        pages = format_html_join(
            " ",
            '<span class="di-ocr-confidence" data-page="{}">p. {}: {}%</span>',
            ((page, page, round(float(score) * 100)) for page, score in scores.items()),
        )
        return format_html(
            "{}{}{}",
            format_html('<span class="di-ocr-engine">{}</span> ', engine) if engine else "",
            pages,
            format_html('<p class="di-ocr-note help">{}</p>', note) if note else "",
        )

    @admin.display(description=_("contained in / contains"))
    def family_display(self, obj: Document) -> str:
        """Field "contained in / contains": the e-mail or archive the document came from, and what it contains.

        Links to the container and to up to 200 contained documents (attachments, archive members), then the members
        that were refused, each with its error code. A dash when the document is neither.
        """
        parts = []
        if obj.parent_id:
            url = reverse("admin:documents_document_change", args=[obj.parent_id])
            parts.append(format_html('{} <a href="{}">#{}</a>', _("Contained in"), url, obj.parent_id))
        children = list(obj.children.filter(deleted_at__isnull=True).only("id", "title").order_by("id")[:200])
        if children:
            links = format_html_join(
                ", ",
                '<a href="{}">{}</a>',
                ((reverse("admin:documents_document_change", args=[c.pk]), c.title) for c in children),
            )
            parts.append(format_html("{}: {}", _("Contains"), links))
        info = obj.ingest_info or {}
        members = list(info.get("members") or []) + list(info.get("attachments") or [])
        refused = [m for m in members if m.get("status") == "refused"]
        if refused:
            parts.append(
                format_html(
                    "{}: {}",
                    _("Refused"),
                    format_html_join(
                        ", ",
                        '{} <code class="di-error-code">{}</code>',
                        ((m.get("name", ""), m.get("code", "")) for m in refused),
                    ),
                )
            )
        if not parts:
            return "—"
        return format_html_join(mark_safe("<br>"), "{}", ((p,) for p in parts))

    @admin.display(description=_("error"))
    def error_display(self, obj: Document) -> str:
        """Field "error": the error code and message of a failed ingestion (a dash when there is none)."""
        if not obj.error_code:
            return "—"
        return format_html('<code class="di-error-code">{}</code> {}', obj.error_code, obj.error_message)

    # --- permissions: no plain "add" form; uploads go through the upload view ---------------------------------
    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """Send "Add document" to the upload view: a document is only created by the upload service's checks.

        Args:
            request: the admin request.
            form_url: unused (Django's signature).
            extra_context: unused (Django's signature).

        Returns:
            A redirect to the multi-file upload page.
        """
        return HttpResponseRedirect(reverse("admin:documents_document_upload"))

    def get_actions(
        self, request: HttpRequest, action_location: ActionLocation = ActionLocation.CHANGE_LIST
    ) -> dict[str, Any]:
        """The list's actions without Django's "delete selected": "Delete selected documents" replaces it.

        The replacement names what goes (file, chunks and vectors) and deletes each document through
        ``document_delete``, without Django's confirmation page, which would list every chunk of every document.

        Args:
            request: the admin request.
            action_location: where the actions are rendered (Django's argument, passed through).

        Returns:
            The actions by name.
        """
        actions = super().get_actions(request, action_location)
        actions.pop("delete_selected", None)
        return actions

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Save the change form's relations; the access groups are the lifecycle service's to apply.

        The service writes the audit row, gives every version of the document the same groups and syncs the readers onto
        the vectors after commit, so a reader removed from a group stops finding the passages.

        Args:
            request: the admin request (the actor of the audit row).
            form: the saved change form, with the access groups chosen.
            formsets: the inline formsets (the read-only chunks).
            change: True for an existing document, False for one just added.
        """
        groups = form.cleaned_data.pop("access_groups", None)  # the service sets them (save_m2m skips a popped field)
        super().save_related(request, form, formsets, change)
        if groups is not None:
            document_access_set(document=form.instance, groups=groups, ctx=ActorContext.from_request(request))

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        """Delete from the change page through ``document_delete``: hidden at once, vectors, chunks and file removed.

        Every version of the document and everything it contains go with it.

        Args:
            request: the admin request (the actor of the audit row).
            obj: the document to delete.
        """
        document_delete(document=obj, ctx=ActorContext.from_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        """Delete each selected document through ``document_delete`` (never a bulk row delete).

        Args:
            request: the admin request (the actor of the audit rows).
            queryset: the documents to delete.
        """
        for document in queryset:
            document_delete(document=document, ctx=ActorContext.from_request(request))

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        """Keep Django's LogEntry, skip the mixin's ``admin_delete`` row: ``document_delete`` writes its own audit row.

        Args:
            request: the admin request.
            queryset: the deleted documents.

        Returns:
            What Django's ``log_deletions`` returns.
        """
        # document_delete writes the audit row; keep Django's LogEntry only.
        return admin.ModelAdmin.log_deletions(self, request, queryset)

    # --- actions ------------------------------------------------------------------------------------------------
    @admin.action(description=_("Re-ingest selected documents"), permissions=["change"])
    def reingest_selected(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        """Action: queue the selected documents for ingestion again (their chunks and vectors are replaced).

        One success message with the count; one error message per document refused (being deleted, or a superseded
        version, which is restored instead).

        Args:
            request: the admin request.
            queryset: the selected documents.
        """
        done, failed = 0, []
        for document in queryset:
            try:
                document_reingest(document=document, ctx=ActorContext.from_request(request))
                done += 1
            except DocIntelError as exc:
                failed.append(f"{document.title}: {exc.message}")
        if done:
            self.message_user(
                request,
                ngettext("%(n)d document queued for re-ingestion.", "%(n)d documents queued for re-ingestion.", done)
                % {"n": done},
                messages.SUCCESS,
            )
        for line in failed:
            self.message_user(request, line, messages.ERROR)

    def _reocr(self, request: HttpRequest, queryset: QuerySet[Document], engine: str) -> None:
        """Queue each document for OCR with ``engine``; warn when another engine reads it; report refusals by code."""
        done, failed = 0, []
        for document in queryset:
            try:
                document_reocr(document=document, engine=engine, ctx=ActorContext.from_request(request))
                done += 1
                _, note = ocr_engine_for(engine=engine, language=document.language)
                if note:
                    self.message_user(request, f"{document.title}: {note}", messages.WARNING)
            except DocIntelError as exc:
                failed.append(format_html("{}: {} <code>{}</code>", document.title, exc.message, exc.code))
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(n)d document queued for OCR with %(engine)s.",
                    "%(n)d documents queued for OCR with %(engine)s.",
                    done,
                )
                % {"n": done, "engine": engine},
                messages.SUCCESS,
            )
        for line in failed:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description=_("Re-OCR with Tesseract (Greek + English)"), permissions=["change"])
    def reocr_tesseract(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        """Action: read the selected scans again with Tesseract (Greek and English models, the default queue).

        Args:
            request: the admin request.
            queryset: the selected documents; those with a text layer are refused (``not_a_scan``).
        """
        self._reocr(request, queryset, "tesseract")

    @admin.action(description=_("Re-OCR with EasyOCR (English only)"), permissions=["change"])
    def reocr_easyocr(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        """Action: read the selected scans again with EasyOCR (English only: Greek ones fall back to Tesseract, warned).

        Needs a worker on the ``ocr`` queue; without one every document is refused with ``ocr_engine_unavailable``.

        Args:
            request: the admin request.
            queryset: the selected documents.
        """
        self._reocr(request, queryset, "easyocr")

    @admin.action(description=_("Re-OCR with Surya (Greek + English)"), permissions=["change"])
    def reocr_surya(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        """Action: read the selected scans again with Surya (Greek and English).

        Needs a worker on the ``ocr`` queue; without one every document is refused with ``ocr_engine_unavailable``.

        Args:
            request: the admin request.
            queryset: the selected documents.
        """
        self._reocr(request, queryset, "surya")

    @admin.action(description=_("Delete selected documents (file, chunks and vectors)"), permissions=["delete"])
    def delete_selected_documents(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        """Action: delete the selected documents with their vectors, chunks and files (and their versions).

        Args:
            request: the admin request (the actor of the audit rows).
            queryset: the selected documents.
        """
        count = 0
        for document in queryset:
            document_delete(document=document, ctx=ActorContext.from_request(request))
            count += 1
        self.message_user(
            request,
            ngettext("%(n)d document queued for deletion.", "%(n)d documents queued for deletion.", count)
            % {"n": count},
            messages.SUCCESS,
        )

    def get_urls(self) -> list[URLPattern]:
        """The admin's URLs plus ``upload/``, ``progress/`` and the version views.

        They come before Django's own, whose ``<path:object_id>/`` would otherwise take ``upload/`` for an object id.

        Returns:
            The URL patterns of this admin.
        """
        return self.upload_urls() + self.version_urls() + super().get_urls()
