"""The evaluation's documents and reader: uploaded and ingested through the real path, removed afterwards.

Files go through :func:`documents.services.lifecycle.document_upload` (validation, storage, audit, task enqueued
after commit) and the ingestion tasks run in this process (Celery eager mode for the duration of the upload), so
parsing, chunking, embedding and indexing are exactly what a librarian's upload gets. The questions are asked by a
dedicated reader in the ``Evaluation`` access group; a second group holds the restricted canary document that
reader must never see.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import structlog
from django.contrib.auth.models import Group

from docintel.celery import tasks_inline
from docintel.context import ActorContext
from docintel.errors import DuplicateDocument
from docintel.models import User
from docintel.roles import READER
from documents.models import Document
from evaluation.services.data import EvalFile

log = structlog.get_logger(__name__)

EVAL_GROUP = "Evaluation"
EVAL_RESTRICTED_GROUP = "Evaluation (restricted)"
EVAL_READER_EMAIL = "evaluation-reader@docintel.invalid"


@dataclass
class EvalPrincipals:
    """Who the evaluation asks as: its reader, the group it may read, and the restricted group it must never see."""

    reader: User
    group: Group
    restricted_group: Group


def eval_principals_ensure() -> EvalPrincipals:
    """The evaluation reader (no usable password) in the Reader role and the Evaluation group; the restricted group."""
    from docintel.services import roles_ensure

    roles = roles_ensure()
    group, _ = Group.objects.get_or_create(name=EVAL_GROUP)
    restricted, _ = Group.objects.get_or_create(name=EVAL_RESTRICTED_GROUP)
    reader = User.objects.filter(email=EVAL_READER_EMAIL).first()
    if reader is None:
        reader = User.objects.create_user(EVAL_READER_EMAIL, None)
    reader.groups.add(roles[READER], group)
    reader.groups.remove(restricted)
    return EvalPrincipals(reader=reader, group=group, restricted_group=restricted)


def documents_ingest(*, files: list[EvalFile], principals: EvalPrincipals) -> dict[str, Document]:
    """Upload and ingest ``files``; an identical file already in the library is reused.

    Args:
        files: what to ingest; a restricted file goes to the restricted group, the others to the evaluation group.
        principals: the groups the documents are shared with.

    Returns:
        The documents by :attr:`EvalFile.key`, refreshed after ingestion (status completed or failed).
    """
    from documents.services.lifecycle import document_upload

    out: dict[str, Document] = {}
    with tasks_inline():
        for f in files:
            groups = [principals.restricted_group] if f.restricted else [principals.group]
            try:
                document = document_upload(
                    fileobj=io.BytesIO(f.data),
                    filename=f.filename,
                    size=len(f.data),
                    ctx=ActorContext.system(),
                    title=f.title,
                    language=f.language,
                    access_groups=groups,
                )
            except DuplicateDocument as exc:
                detail = exc.detail if isinstance(exc.detail, dict) else {}
                document = Document.objects.get(pk=detail["document_id"])
            document.refresh_from_db()
            if document.status != Document.Status.COMPLETED:
                log.warning(
                    "evaluation_document_not_ingested", key=f.key, status=document.status, code=document.error_code
                )
            out[f.key] = document
    return out


def documents_remove(*, documents: list[Document]) -> int:
    """Delete the evaluation's documents (vectors, chunks, files) through the normal deletion path.

    Args:
        documents: the documents to delete (deleted inline, not by a worker).

    Returns:
        How many documents were deleted.
    """
    from documents.services.lifecycle import document_delete

    with tasks_inline():
        for document in documents:
            document_delete(document=document, ctx=ActorContext.system())
    return len(documents)
