"""Document versions in the admin: "upload new version", the versions of a document with their dates, "restore".

A mixin of ``DocumentAdmin``: the views parse the form, call one service (``document_version_upload`` or
``document_version_restore``) and redirect with a message; the list column, the filter and the versions table
only render.
"""

from __future__ import annotations

from typing import Any

import structlog
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from docintel.context import ActorContext
from docintel.errors import DocIntelError, DuplicateDocument
from documents.models import Document
from documents.services.lifecycle import document_version_restore, document_version_upload

log = structlog.get_logger(__name__)

STATE_LABELS = {"current": _("current"), "pending": _("being ingested"), "superseded": _("superseded")}


class NewVersionForm(forms.Form):
    """The "upload a new version" form: the file, and optionally a new title and language.

    The access groups are not asked for: a family of versions has one set of readers, the current version's.
    """

    file = forms.FileField(label=_("File"), help_text=_("The new version. It replaces the current one once ingested."))
    title = forms.CharField(
        label=_("Title"), required=False, max_length=300, help_text=_("Default: the current version's title.")
    )
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("Detect")), ("el", _("Greek")), ("en", _("English"))],
    )


class VersionStateFilter(admin.SimpleListFilter):
    """The list's "version" filter: current versions, versions being ingested to replace them, or superseded ones."""

    title = _("version")
    parameter_name = "version_state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        """The filter's three choices, with their labels.

        Args:
            request: the admin request.
            model_admin: the admin the filter belongs to.

        Returns:
            ``(value, label)`` pairs: ``current``, ``pending`` and ``superseded``.
        """
        return list(STATE_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Narrow the list to the chosen state (the same rule as ``Document.version_state``).

        Args:
            request: the admin request.
            queryset: the list's documents.

        Returns:
            The documents in that state, or all of them when no choice is made.
        """
        value = self.value()
        if value == "current":
            return queryset.filter(is_current=True)
        if value == "pending":
            return queryset.filter(is_current=False, superseded_at__isnull=True)
        if value == "superseded":
            return queryset.filter(is_current=False, superseded_at__isnull=False)
        return queryset


class DocumentVersionsAdminMixin:
    """Views and columns of document versions for ``DocumentAdmin``."""

    admin_site: admin.AdminSite
    opts: Any

    # --- columns -----------------------------------------------------------------------------------------------
    @admin.display(description=_("version"), ordering="version")
    def version_display(self, obj: Document) -> str:
        """Column "version": ``v<number>`` and a badge saying current, being ingested or superseded."""
        state = obj.version_state
        return format_html(
            'v{} <span class="di-badge di-version-{}" data-version-state="{}">{}</span>',
            obj.version,
            state,
            state,
            STATE_LABELS[state],
        )

    @admin.display(description=_("versions"))
    def versions_display(self, obj: Document) -> str:
        """Field "versions": a table of every version of the document, with dates, state, status and a restore link.

        The restore link is offered for a version that is not current and not queued or processing; the current row is
        marked. A dash on the add form, where there is no document yet.
        """
        if not obj.pk:  # the add form (not used: uploads go through the upload view)
            return "—"
        versions = list(Document.objects.family_of(obj).select_related("uploaded_by"))
        rows = []
        for version in versions:
            state = version.version_state
            link = reverse("admin:documents_document_change", args=[version.pk])
            action: Any = ""
            if state != "current" and version.status not in (Document.Status.QUEUED, Document.Status.PROCESSING):
                restore = reverse("admin:documents_document_restore_version", args=[version.pk])
                action = format_html('<a class="di-restore-version" href="{}">{}</a>', restore, _("Restore"))
            rows.append(
                (
                    "di-version-row di-version-row-current" if state == "current" else "di-version-row",
                    version.pk,
                    link,
                    version.version,
                    version.title,
                    version.original_filename,
                    formats.date_format(version.created_at, "SHORT_DATETIME_FORMAT"),
                    formats.date_format(version.superseded_at, "SHORT_DATETIME_FORMAT")
                    if version.superseded_at
                    else "—",
                    STATE_LABELS[state],
                    version.get_status_display(),
                    action,
                )
            )
        body = format_html_join(
            "",
            '<tr class="{}" data-version-id="{}"><td><a href="{}">v{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            rows,
        )
        return format_html(
            '<table class="di-versions"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>'
            "<th>{}</th><th>{}</th><th></th></tr></thead><tbody>{}</tbody></table>",
            _("version"),
            _("title"),
            _("file"),
            _("uploaded"),
            _("superseded"),
            _("state"),
            _("status"),
            body,
        )

    # --- views --------------------------------------------------------------------------------------------------
    def version_urls(self) -> list[URLPattern]:
        """The URLs of the new-version and restore-version views, for ``DocumentAdmin.get_urls``.

        Returns:
            ``<id>/new-version/`` and ``<id>/restore-version/``, named ``documents_document_new_version`` and
            ``documents_document_restore_version``.
        """
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:object_id>/new-version/",
                self.admin_site.admin_view(self.new_version_view),
                name="{}_{}_new_version".format(*info),
            ),
            path(
                "<int:object_id>/restore-version/",
                self.admin_site.admin_view(self.restore_version_view),
                name="{}_{}_restore_version".format(*info),
            ),
        ]

    def _version_or_404(self, request: HttpRequest, object_id: int) -> Document:
        """The document (any version not being deleted), if the user may change it."""
        document = Document.objects.not_deleted().filter(pk=object_id).first()
        if document is None:
            raise Http404
        if not self.has_change_permission(request, document):  # type: ignore[attr-defined]  # ModelAdmin
            raise PermissionDenied
        return document

    def _context(self, request: HttpRequest, document: Document, **extra: Any) -> dict[str, Any]:
        """The admin's template context for a version page of ``document``, plus ``extra``."""
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": document,
            **extra,
        }

    def new_version_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Upload a new version of a document: it ingests beside the current one and replaces it when indexed.

        A duplicate file is a warning with a link to the existing document; any other refusal an error with its code.

        Args:
            request: the admin request; a POST carries the :class:`NewVersionForm`.
            object_id: the document (any of its versions).

        Returns:
            The form page, or after a valid POST a redirect: to the new version, or back to the document when refused.

        Raises:
            Http404: no such document, or it is being deleted.
            PermissionDenied: the user may not change documents.
        """
        document = self._version_or_404(request, object_id)
        form = NewVersionForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                new = document_version_upload(
                    document=document,
                    fileobj=upload,
                    filename=upload.name or "unnamed",
                    size=upload.size or 0,
                    ctx=ActorContext.from_request(request),
                    title=form.cleaned_data["title"],
                    language=form.cleaned_data["language"],
                )
            except DuplicateDocument as exc:
                existing = (exc.detail or {}).get("document_id")
                url = reverse("admin:documents_document_change", args=[existing]) if existing else ""
                messages.warning(
                    request,
                    format_html(
                        '{}: {} <a href="{}">{}</a> <code>{}</code>',
                        upload.name,
                        exc.message,
                        url,
                        _("Open the existing document"),
                        exc.code,
                    ),
                )
            except DocIntelError as exc:
                messages.error(request, format_html("{}: {} <code>{}</code>", upload.name, exc.message, exc.code))
            else:
                messages.success(
                    request,
                    _("Version %(version)d uploaded; it becomes current when it has been ingested.")
                    % {"version": new.version},
                )
                return HttpResponseRedirect(reverse("admin:documents_document_change", args=[new.pk]))
            return HttpResponseRedirect(reverse("admin:documents_document_change", args=[document.pk]))
        context = self._context(
            request,
            document,
            form=form,
            title=_("Upload a new version of “%(title)s”") % {"title": document.title},
            media=form.media,
        )
        return render(request, "admin/documents/document/new_version.html", context)

    def restore_version_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """Confirm, then make an old version current again (re-indexed beside the current one, then switched).

        Args:
            request: the admin request; a POST confirms.
            object_id: the version to restore.

        Returns:
            The confirmation page (showing the current version), or after a POST a redirect back to the version.

        Raises:
            Http404: no such version, or it is being deleted.
            PermissionDenied: the user may not change documents.
        """
        document = self._version_or_404(request, object_id)
        if request.method == "POST":
            try:
                document_version_restore(document=document, ctx=ActorContext.from_request(request))
            except DocIntelError as exc:
                messages.error(request, format_html("{} <code>{}</code>", exc.message, exc.code))
            else:
                messages.success(
                    request,
                    _("Version %(version)d is being indexed again; it becomes current when it is ready.")
                    % {"version": document.version},
                )
            return HttpResponseRedirect(reverse("admin:documents_document_change", args=[document.pk]))
        current = Document.objects.family_of(document).filter(is_current=True).first()
        context = self._context(
            request,
            document,
            current=current,
            title=_("Restore version %(version)d of “%(title)s”")
            % {"version": document.version, "title": document.title},
        )
        return render(request, "admin/documents/document/restore_version.html", context)
