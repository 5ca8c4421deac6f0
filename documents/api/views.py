"""Documents API: list, upload, detail, chunks, re-ingest, delete, versions, restore.

Parse, authorize, call one service, render.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import audit_log_write
from docintel.api.pagination import StrictPageNumberPagination
from docintel.api.permissions import IsLibrarianToWrite
from docintel.api.schema import error_responses
from docintel.context import ActorContext
from docintel.errors import DocumentNotFound
from documents.api.filters import DocumentFilterSet
from documents.api.serializers import (
    ChunkSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    DocumentVersionSerializer,
    DocumentVersionUploadSerializer,
)
from documents.models import Chunk, Document
from documents.services.lifecycle import (
    document_delete,
    document_reingest,
    document_upload,
    document_version_restore,
    document_version_upload,
)


class _VisibleDocuments(generics.GenericAPIView[Document]):
    """Documents the user may see; any other id answers ``document_not_found`` (404), never 403."""

    permission_classes = (IsAuthenticated, IsLibrarianToWrite)
    serializer_class = DocumentSerializer
    pagination_class = StrictPageNumberPagination
    object_level_write = True  # detail routes: look the document up first, then check the right to write
    all_versions = True  # detail routes: a librarian may address any version (a reader only current ones)

    def get_queryset(self) -> QuerySet[Document]:
        user = self.request.user
        documents = (
            Document.objects.versions_visible_to(user) if self.all_versions else Document.objects.visible_to(user)
        )
        return (
            documents.annotate(chunk_count=Count("chunks", distinct=True))
            .prefetch_related("access_groups")
            .order_by("-created_at", "-id")  # Meta.ordering, which an aggregate drops
        )

    def get_object(self) -> Document:
        document = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if document is None:
            raise DocumentNotFound
        self.check_object_permissions(self.request, document)
        return document

    def render_document(self, document: Document, *, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().filter(pk=document.pk).first() or document
        return Response(self.get_serializer(fresh).data, status=status_code)


class DocumentListView(_VisibleDocuments):
    """``/api/v1/documents/``: the documents you may read; librarians upload."""

    parser_classes = (MultiPartParser,)
    object_level_write = False  # upload: only librarians, checked before the body is read
    all_versions = False  # the list shows each document once, in its current version
    filter_backends = (DjangoFilterBackend,)
    filterset_class = DocumentFilterSet

    @extend_schema(
        operation_id="documents_list",
        responses={200: DocumentSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        """Documents the user may read, newest first; filter by status, language and access group."""
        queryset = self.filter_queryset(self.get_queryset())  # DocumentFilterSet: an invalid parameter is a 400
        page = self.paginate_queryset(queryset)
        assert page is not None  # the API always paginates (DEFAULT_PAGINATION_CLASS)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="documents_upload",
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={201: DocumentSerializer, **error_responses(400, 403, 409, 413, 415, 422)},
    )
    def post(self, request: Request) -> Response:
        """Upload a file (librarians): validated like the admin upload, then queued for ingestion."""
        form = DocumentUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        document = document_upload(
            fileobj=upload,
            filename=upload.name or "unnamed",
            size=upload.size or 0,
            ctx=ActorContext.from_request(request),
            title=form.validated_data["title"],
            language=form.validated_data["language"],
            access_groups=form.validated_data.get("access_groups", []),
        )
        return self.render_document(document, status_code=status.HTTP_201_CREATED)


class DocumentDetailView(_VisibleDocuments):
    """``/api/v1/documents/{id}/``: one document; librarians delete it."""

    @extend_schema(operation_id="documents_retrieve", responses={200: DocumentSerializer, **error_responses(404)})
    def get(self, request: Request, pk: int) -> Response:
        """A document with its ingestion status, stage, progress and error."""
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        operation_id="documents_delete",
        responses={204: OpenApiResponse(description="Deletion queued."), **error_responses(403, 404)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        """Delete a document and all its versions (librarians): hidden at once, vectors, chunks and files removed."""
        document_delete(document=self.get_object(), ctx=ActorContext.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentReingestView(_VisibleDocuments):
    """``/api/v1/documents/{id}/reingest/``: librarians queue a document for ingestion again."""

    @extend_schema(
        operation_id="documents_reingest",
        request=None,
        responses={202: DocumentSerializer, **error_responses(403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Queue a document for ingestion again (librarians); its chunks are replaced, never appended."""
        document = document_reingest(document=self.get_object(), ctx=ActorContext.from_request(request))
        return self.render_document(document, status_code=status.HTTP_202_ACCEPTED)


class DocumentVersionsView(_VisibleDocuments):
    """``/api/v1/documents/{id}/versions/``: the versions of a document; librarians upload a new one."""

    parser_classes = (MultiPartParser,)

    @extend_schema(
        operation_id="documents_versions_list",
        responses={200: DocumentVersionSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        """Every version of the document, oldest first, with its dates (a reader sees the indexed ones)."""
        document = self.get_object()
        versions = Document.objects.family_of(document)
        if not getattr(request.user, "is_librarian", False):
            versions = versions.filter(Q(is_current=True) | Q(superseded_at__isnull=False))
        page = self.paginate_queryset(versions)
        assert page is not None  # the API always paginates (DEFAULT_PAGINATION_CLASS)
        return self.get_paginated_response(DocumentVersionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="documents_versions_upload",
        request={"multipart/form-data": DocumentVersionUploadSerializer},
        responses={201: DocumentSerializer, **error_responses(400, 403, 404, 409, 413, 415, 422)},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Upload a new version (librarians): ingested beside the current version, current once indexed.

        Checked like an upload: an identical file (to any document or version) answers ``duplicate_document`` with
        ``detail.document_id``; a version still being ingested answers ``document_busy``.
        """
        document = self.get_object()
        form = DocumentVersionUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        new = document_version_upload(
            document=document,
            fileobj=upload,
            filename=upload.name or "unnamed",
            size=upload.size or 0,
            ctx=ActorContext.from_request(request),
            title=form.validated_data["title"],
            language=form.validated_data["language"],
        )
        return self.render_document(new, status_code=status.HTTP_201_CREATED)


class DocumentRestoreView(_VisibleDocuments):
    """``/api/v1/documents/{id}/restore/``: librarians make an old version current again."""

    @extend_schema(
        operation_id="documents_restore",
        request=None,
        responses={202: DocumentSerializer, **error_responses(403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Make this old version current again (librarians): re-indexed beside the current one, then switched.

        The current version answers ``version_conflict``; a version being ingested ``document_busy``.
        """
        document = document_version_restore(document=self.get_object(), ctx=ActorContext.from_request(request))
        return self.render_document(document, status_code=status.HTTP_202_ACCEPTED)


class DocumentChunksView(generics.GenericAPIView[Chunk]):
    """``/api/v1/documents/{id}/chunks/``: the passages of a document you may read."""

    serializer_class = ChunkSerializer
    pagination_class = StrictPageNumberPagination

    def get_queryset(self) -> QuerySet[Chunk]:
        """The document's chunks in reading order; an id you may not read (or a version out of view) is a 404."""
        if not Document.objects.versions_visible_to(self.request.user).filter(pk=self.kwargs["pk"]).exists():
            raise DocumentNotFound
        return Chunk.objects.filter(document_id=self.kwargs["pk"]).order_by("ordinal")

    @extend_schema(
        operation_id="documents_chunks",
        responses={200: ChunkSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        """The chunks of a document, in reading order (each read is audited)."""
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # the API always paginates (DEFAULT_PAGINATION_CLASS)
        audit_log_write(
            action="chunks_read",
            ctx=ActorContext.from_request(request),
            target_type="documents.document",
            target_id=pk,
            details={"chunk_ids": [chunk.pk for chunk in page]},
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
