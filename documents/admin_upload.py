"""The librarians' upload page and the list page's progress feed, as a mixin of the document admin.

``upload/`` takes many files at once, each through the upload service (checked, stored under a generated name,
queued after commit); ``progress/`` is the polling fallback of the list page's live progress bars.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from docintel.context import ActorContext
from docintel.errors import DocIntelError, DuplicateDocument
from docintel.params import int_list_param
from documents.models import Document
from documents.services.lifecycle import document_upload


class MultipleFileInput(forms.ClearableFileInput):
    """A file input that lets the librarian pick several files at once (Django refuses ``multiple`` otherwise)."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field whose cleaned value is always a list of uploaded files, each checked like a single one.

    Django's ``FileField`` cleans one file; the upload page takes many, so each is validated by the parent's ``clean``
    and the results are returned together.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Use :class:`MultipleFileInput` unless the caller gives another widget.

        Args:
            *args: passed to ``forms.FileField``.
            **kwargs: passed to ``forms.FileField``; ``widget`` defaults to a :class:`MultipleFileInput`.
        """
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        """Validate every uploaded file with ``FileField.clean``.

        Args:
            data: one uploaded file, or the list of them the widget returns.
            initial: the field's initial value (unused by an upload form; passed through).

        Returns:
            The list of cleaned files (one element for a single upload).

        Raises:
            ValidationError: a file fails the field's checks (missing when required, no file name, empty file).
        """
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    """The upload page's form: several files at once, with the language and the readers they all share.

    The title applies only to a single file (several files keep their file names as titles); an empty language means
    "detect"; no access group means librarians only (default deny). The files themselves are checked by the upload
    service, not here.
    """

    files = MultipleFileField(  # type: ignore[assignment]  # a form field, popped from attrs by the metaclass
        label=_("Files"),
        help_text=_(
            "PDF, DOCX, PPTX, XLSX, HTML, Markdown, CSV, plain text, e-mail (.eml), ZIP archives or scans "
            "(PNG, JPEG, TIFF, WebP). Select several at once."
        ),
    )
    title = forms.CharField(
        label=_("Title"), required=False, max_length=300, help_text=_("Only for a single file; default: file name.")
    )
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("Detect")), ("el", _("Greek")), ("en", _("English"))],
    )
    access_groups = forms.ModelMultipleChoiceField(
        label=_("Access groups"),
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Who may read these documents. None: librarians only."),
    )


class DocumentUploadAdminMixin(admin.ModelAdmin[Document]):
    """The document admin's extra views: the multi-file upload page and the progress feed of the list page."""

    def upload_urls(self) -> list[URLPattern]:
        """``upload/`` and ``progress/``, wrapped in the admin site's login and permission check.

        Returns:
            The two URL patterns, named ``documents_document_upload`` and ``documents_document_progress``.
        """
        info = self.opts.app_label, self.opts.model_name
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="{}_{}_upload".format(*info)),
            path("progress/", self.admin_site.admin_view(self.progress_view), name="{}_{}_progress".format(*info)),
        ]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """The multi-file upload page: each file goes through the upload service, which checks, stores and queues it.

        A duplicate (same SHA-256 as a document not being deleted) is a warning with a link to the existing document;
        any other refusal is an error with its code; the files that passed are counted in one success message.

        Args:
            request: the admin request; a POST carries the :class:`UploadForm`.

        Returns:
            The form page, or after a valid POST a redirect to the document list.

        Raises:
            PermissionDenied: the user may not add documents.
        """
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            files = form.cleaned_data["files"]
            created = 0
            for upload in files:
                try:
                    document_upload(
                        fileobj=upload,
                        filename=upload.name or "unnamed",
                        size=upload.size or 0,
                        ctx=ActorContext.from_request(request),
                        title=form.cleaned_data["title"] if len(files) == 1 else "",
                        language=form.cleaned_data["language"],
                        access_groups=form.cleaned_data["access_groups"],
                    )
                    created += 1
                except DuplicateDocument as exc:
                    existing = (exc.detail or {}).get("document_id")
                    url = reverse("admin:documents_document_change", args=[existing]) if existing else ""
                    self.message_user(
                        request,
                        format_html(
                            '{}: {} <a href="{}">{}</a> <code>{}</code>',
                            upload.name,
                            exc.message,
                            url,
                            _("Open the existing document"),
                            exc.code,
                        ),
                        messages.WARNING,
                    )
                except DocIntelError as exc:
                    self.message_user(
                        request,
                        format_html("{}: {} <code>{}</code>", upload.name, exc.message, exc.code),
                        messages.ERROR,
                    )
            if created:
                self.message_user(
                    request,
                    ngettext("%(n)d document uploaded and queued.", "%(n)d documents uploaded and queued.", created)
                    % {"n": created},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(reverse("admin:documents_document_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "title": _("Upload documents"),
            "media": self.media + form.media,
        }
        return render(request, "admin/documents/document/upload.html", context)

    def progress_view(self, request: HttpRequest) -> JsonResponse:
        """Status of the given documents (``?ids=1,2,3``): the polling fallback of the live progress bars.

        Also what the progress script asks for when a WebSocket event says a document finished: the pages, chunks and
        language it fills into the row.

        Args:
            request: the admin request; ``ids`` lists at most 500 document ids (more are ignored).

        Returns:
            ``{"documents": [{"id", "status", "stage", "progress", "error_code", "error_message", "page_count",
            "language", "chunks"}, ...]}``.

        Raises:
            PermissionDenied: the user may not view documents.
        """
        if not self.has_view_permission(request):
            raise PermissionDenied
        ids = int_list_param(request.GET.get("ids", ""), limit=500)
        fields = ("id", "status", "stage", "progress", "error_code", "error_message", "page_count", "language")
        rows = Document.objects.filter(pk__in=ids).annotate(chunks_total=Count("chunks"))
        documents = [
            {**{k: getattr(doc, k) for k in fields}, "chunks": getattr(doc, "chunks_total", 0)} for doc in rows
        ]
        return JsonResponse({"documents": documents})
