"""Document and Chunk: what librarians upload and what retrieval cites."""

from __future__ import annotations

import uuid
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from docintel.models import User

# Namespace for deterministic vector ids: uuid5(namespace, "<document id>:<ordinal>") is stable across re-runs.
VECTOR_NAMESPACE = uuid.UUID("8a5c0c3e-7f7e-4d59-9b7e-3f5f0f0d1c21")


def document_upload_to(instance: Document, filename: str) -> str:
    """Server-generated storage name: the client's name is never part of the path (kept as metadata only).

    Args:
        instance: the document being saved (unused: the name does not depend on it).
        filename: the client's file name; only a short ASCII suffix (``.pdf``, ``.docx``) is kept from it.

    Returns:
        ``documents/<year>/<month>/<random hex><suffix>``, relative to the media storage.
    """
    suffix = PurePath(filename).suffix.lower()
    safe_suffix = suffix if suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 6 else ""
    now = timezone.now()
    return f"documents/{now:%Y/%m}/{uuid.uuid4().hex}{safe_suffix}"


class DocumentQuerySet(models.QuerySet["Document"]):
    """How the product reads documents: not being deleted, current versions, a family, what a user may read.

    Every read a reader can reach goes through :meth:`visible_to` (or :meth:`versions_visible_to`), so default deny and
    "only the current version is cited" hold in one place.
    """

    def not_deleted(self) -> DocumentQuerySet:
        """Every version of every document not being deleted (the admin's list, the duplicate check)."""
        return self.filter(deleted_at__isnull=True)

    def active(self) -> DocumentQuerySet:
        """Documents not being deleted, in their current version only (old and pending versions left out)."""
        return self.filter(deleted_at__isnull=True, is_current=True)

    def family_of(self, document: Document) -> DocumentQuerySet:
        """All versions of ``document``'s family (not being deleted), oldest first."""
        root = document.family_id
        return self.not_deleted().filter(Q(pk=root) | Q(version_of_id=root)).order_by("version", "id")

    def versions_visible_to(self, user: User | Any) -> DocumentQuerySet:
        """The versions ``user`` may address: every version for a librarian, the current ones for a reader."""
        if user is not None and getattr(user, "is_authenticated", False) and user.is_active and user.is_librarian:
            return self.not_deleted()
        return self.visible_to(user)

    def visible_to(self, user: User | Any) -> DocumentQuerySet:
        """Documents ``user`` may read. Default deny: without a shared access group only librarians see a document.

        Readers see only completed documents; librarians and superusers see every active one. Only the current
        version of a document passes, for everyone: retrieval hydrates its hits through these rules, so a superseded or
        a still-ingesting version is never cited. :meth:`ChunkQuerySet.hits_visible_to` repeats them as one SQL query
        on PostgreSQL: a change here goes there too (its test compares the two for every kind of user).
        """
        qs = self.active()
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return qs.none()
        if user.is_librarian:
            return qs
        return (
            qs.filter(status=Document.Status.COMPLETED, access_groups__in=user.groups.all())
            .distinct()
            .order_by("-created_at", "-id")
        )


class Document(models.Model):
    """An uploaded file: its ingestion state, its readers, and its place among versions and containers.

    A document belongs to a family of versions (``version_of`` points at the first one; one of them is current) and
    may have been extracted from a container (``parent``: the e-mail it was attached to or the ZIP it was packed in).
    Readers are the members of its access groups; without a group only librarians see it.
    """

    class Status(models.TextChoices):
        """Where ingestion stands: queued, processing, then completed or failed (the two terminal states)."""

        QUEUED = "queued", _("Queued")
        PROCESSING = "processing", _("Processing")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    class Stage(models.TextChoices):
        """The worker's step, shown beside the progress bar; ``deleting`` while vectors, chunks and file go."""

        UPLOADED = "uploaded", _("Uploaded")
        PARSING = "parsing", _("Parsing")
        OCR = "ocr", _("OCR")
        CHUNKING = "chunking", _("Chunking")
        EMBEDDING = "embedding", _("Embedding")
        INDEXING = "indexing", _("Indexing")
        DONE = "done", _("Done")
        DELETING = "deleting", _("Deleting")

    title = models.CharField(_("title"), max_length=300)
    file = models.FileField(_("file"), upload_to=document_upload_to, max_length=255)
    original_filename = models.CharField(_("original file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True, editable=False)
    mime_type = models.CharField(_("MIME type"), max_length=127)
    size_bytes = models.PositiveBigIntegerField(_("size (bytes)"))
    language = models.CharField(_("language"), max_length=16, blank=True, help_text=_("el, en, or mixed"))
    page_count = models.PositiveIntegerField(_("pages"), null=True, blank=True)

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, default=Stage.UPLOADED)
    progress = models.PositiveSmallIntegerField(_("progress %"), default=0)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    parser = models.CharField(
        _("parser"), max_length=64, blank=True, help_text=_("which conversion path produced the chunks")
    )
    ingest_info = models.JSONField(_("ingestion details"), default=dict, blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # children are removed through document_delete (vectors first), never by cascade
        related_name="children",
        verbose_name=_("contained in"),
        help_text=_("the e-mail or ZIP archive this document was attached to or packed in"),
    )
    version_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # a family is deleted whole through document_delete (vectors first)
        related_name="later_versions",
        verbose_name=_("new version of"),
        help_text=_("the first version of this document; empty for the first version itself"),
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    is_current = models.BooleanField(
        _("current version"),
        default=True,
        help_text=_("only the current version is searched and cited; a new version becomes current when ingested"),
    )
    superseded_at = models.DateTimeField(_("superseded"), null=True, blank=True, editable=False)

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="uploaded_documents",
        verbose_name=_("uploaded by"),
    )
    access_groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="documents",
        verbose_name=_("access groups"),
        help_text=_("Members of these groups may read the document. None: only librarians (default deny)."),
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    deleted_at = models.DateTimeField(_("deletion requested"), null=True, blank=True, editable=False)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        """Newest first; a SHA-256 once among live documents; per family one current, one pending, unique numbers."""

        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["sha256"], condition=Q(deleted_at__isnull=True), name="document_sha256_unique_active"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="document_progress_lte_100"),
            # one current version per family, at most one version waiting to become current, numbers unique
            models.UniqueConstraint(
                Coalesce("version_of", "id"),
                condition=Q(deleted_at__isnull=True, is_current=True),
                name="document_one_current_version",
            ),
            models.UniqueConstraint(
                Coalesce("version_of", "id"),
                condition=Q(deleted_at__isnull=True, is_current=False, superseded_at__isnull=True),
                name="document_one_pending_version",
            ),
            models.UniqueConstraint(Coalesce("version_of", "id"), F("version"), name="document_version_unique"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="document_status_created"),
            models.Index(fields=["version_of", "version"], name="document_family_version"),
        ]

    def __str__(self) -> str:
        """The title: what the admin's lists and links, and the audit rows, name the document by."""
        return self.title

    @property
    def family_id(self) -> int:
        """The id of the family's first version (the document's own id for a first version)."""
        return int(self.version_of_id or self.pk)

    @property
    def version_state(self) -> str:
        """``current``, ``pending`` (a new or restored version not yet switched to) or ``superseded``."""
        if self.is_current:
            return "current"
        return "superseded" if self.superseded_at else "pending"

    @property
    def is_terminal(self) -> bool:
        """True once ingestion has ended, completed or failed: nothing more happens until a re-ingest."""
        return self.status in (self.Status.COMPLETED, self.Status.FAILED)

    def mark_failed(self, *, code: str, message: str) -> None:
        """Record a terminal failure with its error code.

        Args:
            code: the error code shown to librarians and in the API (cut to 64 characters).
            message: the human-readable explanation.
        """
        self.status = self.Status.FAILED
        self.error_code = code[:64]
        self.error_message = message
        self.processed_at = timezone.now()
        self.save(update_fields=["status", "error_code", "error_message", "processed_at", "updated_at"])


class ChunkQuerySet(models.QuerySet["Chunk"]):
    """Passages by quarantine state: the ones held out of retrieval, and the ones retrieval may return."""

    def quarantined(self) -> ChunkQuerySet:
        """Passages flagged as injected text that no librarian has released: never retrieved, never cited."""
        return self.filter(injection_flag=True, released_at__isnull=True)

    def retrievable(self) -> ChunkQuerySet:
        """Passages retrieval may return (everything but the quarantined ones)."""
        return self.exclude(injection_flag=True, released_at__isnull=True)

    def hits_visible_to(self, user: User | Any, vector_ids: list[str]) -> list[Chunk]:
        """The :meth:`retrievable` chunks of ``vector_ids`` whose document ``user`` may read, with ``document_title``.

        The rules are :meth:`DocumentQuerySet.visible_to`'s, checked again at this moment (a document deleted,
        superseded or un-shared since it was indexed is dropped). On PostgreSQL they are one raw query
        (:data:`HITS_VISIBLE_SQL`): building and compiling the two ORM queries cost more than PostgreSQL's own
        execution (1.3 and 1.4 ms against 0.3 each). Elsewhere, and as the reference it is tested against, the ORM's
        (:meth:`hits_visible_to_orm`).
        """
        if not vector_ids or user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return []
        if connection.vendor != "postgresql":
            return self.hits_visible_to_orm(user, vector_ids)
        params = {
            "ids": [uuid.UUID(v) for v in vector_ids],
            "librarian": bool(user.is_librarian),
            "completed": Document.Status.COMPLETED.value,
            "user": user.pk,
        }
        return list(self.model.objects.raw(_hits_visible_sql(), params))

    def hits_visible_to_orm(self, user: User | Any, vector_ids: list[str]) -> list[Chunk]:
        """:meth:`hits_visible_to` through the ORM: the hits, then which of their documents ``user`` may read.

        Two queries, not one: ``document__in=visible`` (or a correlated EXISTS) let PostgreSQL start from every
        visible document when the table's statistics were stale, as after a bulk load (5-10 ms at 100k chunks).
        """
        found = list(
            self.retrievable()
            .filter(vector_id__in=vector_ids)
            .select_related("document")
            .only(*_HIT_FIELDS, "document__id", "document__title")
        )
        readable = set(
            Document.objects.visible_to(user)
            .filter(pk__in={c.document_id for c in found})
            .order_by()
            .values_list("pk", flat=True)
        )
        hits = [c for c in found if c.document_id in readable]
        for chunk in hits:
            chunk.document_title = chunk.document.title
        return hits


# What a retrieved passage needs of its chunk (a chunk row also holds its box, metadata, rule...).
_HIT_FIELDS = (
    "id", "document_id", "text", "page_start", "page_end", "heading_path", "vector_id", "injection_flag", "released_at",
)  # fmt: skip


def _hits_visible_sql() -> str:
    """:meth:`ChunkQuerySet.hits_visible_to`'s query on PostgreSQL, the tables named from the models.

    The hits come first, materialised (an optimisation fence): PostgreSQL then never starts from the visible
    documents, whatever its statistics say. Then, as in ``visible_to``: the document is not being deleted and is the
    current version; a librarian (or superuser) reads it; a reader only when it is completed and shared with one of
    their groups, read live from the membership table (not from the groups the search was filtered by).
    """
    global HITS_VISIBLE_SQL  # noqa: PLW0603 - built once, on first use (the models must be loaded)
    if HITS_VISIBLE_SQL is None:
        shares = Document.access_groups.through._meta.db_table
        members = get_user_model().groups.through._meta.db_table
        columns = ", ".join(f"h.{name}" for name in _HIT_FIELDS)
        # table and column names from the models; every value is a parameter
        HITS_VISIBLE_SQL = (
            f"WITH h AS MATERIALIZED (SELECT {', '.join(_HIT_FIELDS)} FROM {Chunk._meta.db_table}"  # noqa: S608
            " WHERE vector_id = ANY(%(ids)s) AND NOT (injection_flag AND released_at IS NULL))"
            f" SELECT {columns}, d.title AS document_title FROM h JOIN {Document._meta.db_table} d"
            " ON d.id = h.document_id"
            " WHERE d.deleted_at IS NULL AND d.is_current AND (%(librarian)s OR (d.status = %(completed)s AND EXISTS ("
            f"SELECT 1 FROM {shares} s JOIN {members} m ON m.group_id = s.group_id"
            " WHERE s.document_id = d.id AND m.user_id = %(user)s)))"
        )
    return HITS_VISIBLE_SQL


HITS_VISIBLE_SQL: str | None = None


class Chunk(models.Model):
    """A retrievable passage of a document, with where it sits in the source (page/slide, heading, box)."""

    class Kind(models.TextChoices):
        """What a passage holds: running text, or a table rendered as text."""

        TEXT = "text", _("Text")
        TABLE = "table", _("Table")

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField(_("ordinal"))
    text = models.TextField(_("text"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.TEXT)
    page_start = models.PositiveIntegerField(_("first page"), null=True, blank=True)
    page_end = models.PositiveIntegerField(_("last page"), null=True, blank=True)
    heading_path = models.JSONField(_("heading path"), default=list, blank=True)
    bbox = models.JSONField(
        _("bounding box"), null=True, blank=True, help_text=_("[left, top, right, bottom] in PDF points")
    )
    token_count = models.PositiveIntegerField(_("tokens"), default=0)
    vector_id = models.UUIDField(_("vector id"), editable=False)
    language = models.CharField(_("language"), max_length=16, blank=True)
    injection_flag = models.BooleanField(
        _("suspected injection"),
        default=False,
        help_text=_("the text looks like instructions to a model; held out of retrieval until released"),
    )
    injection_rule = models.CharField(
        _("rule that fired"), max_length=200, blank=True, help_text=_("why the passage was quarantined")
    )
    released_at = models.DateTimeField(_("released from quarantine"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("released by"),
    )
    meta = models.JSONField(_("metadata"), default=dict, blank=True)
    document_title: str  # not a column: set on the chunks ChunkQuerySet.hits_visible_to returns

    objects = ChunkQuerySet.as_manager()

    class Meta:
        """In document order; unique ordinal per document, unique vector id; an index of each document's held ones."""

        verbose_name = _("chunk")
        verbose_name_plural = _("chunks")
        ordering = ("document_id", "ordinal")
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_document_ordinal_unique"),
            models.UniqueConstraint(fields=["vector_id"], name="chunk_vector_id_unique"),
        ]
        indexes = [
            models.Index(
                fields=["document"],
                condition=Q(injection_flag=True, released_at__isnull=True),
                name="chunk_quarantined",
            )
        ]

    def __str__(self) -> str:
        """``<document id>#<ordinal>``: how the admin and the audit rows name a passage."""
        return f"{self.document_id}#{self.ordinal}"

    @staticmethod
    def make_vector_id(document_id: int, ordinal: int) -> uuid.UUID:
        """Deterministic point id: a re-run upserts the same point instead of adding one.

        Args:
            document_id: the passage's document.
            ordinal: the passage's position in the document.

        Returns:
            ``uuid5`` of ``"<document id>:<ordinal>"`` in the product's namespace.
        """
        return uuid.uuid5(VECTOR_NAMESPACE, f"{document_id}:{ordinal}")

    @property
    def quarantined(self) -> bool:
        """Flagged as injected text and not released by a librarian: held out of retrieval."""
        return self.injection_flag and self.released_at is None

    @property
    def heading(self) -> str:
        """The heading path on one line (``Chapter 2 › Fees``), as shown in the admin and cited in answers."""
        return " › ".join(str(h) for h in self.heading_path)

    @property
    def location(self) -> str:
        """Where the passage is: page range or heading."""
        if self.page_start:
            if self.page_end and self.page_end != self.page_start:
                return f"pp. {self.page_start}-{self.page_end}"
            return f"p. {self.page_start}"
        return self.heading


class QuarantinedPassage(Chunk):
    """Passages flagged as injected text, for the librarians' review list (released ones stay listed, marked)."""

    class Meta:
        """A proxy of Chunk (no table of its own) named for the review list; newest first."""

        proxy = True
        verbose_name = _("quarantined passage")
        verbose_name_plural = _("quarantined passages")
        ordering = ("-id",)
