"""A real Daphne on 127.0.0.1 serving docintel.asgi against the pytest database and the session's model servers."""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass

import pytest

from documents.models import Document
from documents.services import ingest
from tests.conftest import SHARED_DATA
from tests.factories import make_document
from tests.support import index_document, use_stack

PASSAGES = [
    "The Kestrel reservoir was completed in 1962 and holds 48 million cubic metres of water.",
    "The reservoir dam is 71 metres high and was designed by the engineer Maria Lindqvist.",
    "Swimming in the Kestrel reservoir is forbidden; fishing needs a permit from the water board.",
]
QUESTION = "How high is the Kestrel reservoir dam?"
GAZETTE = SHARED_DATA / "greek" / "gazette-law-4706-2020.pdf"


@dataclass
class LiveServer:
    port: int
    collection_prefix: str
    llm_url: str
    embedding_url: str
    qdrant_url: str
    media_root: str = ""

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def live_daphne(django_db_setup, django_db_blocker, llm_url, embedding_url, qdrant_url, server_logs, tmp_path_factory):
    """One Daphne for the browser and WebSocket modules; it reads and writes the tests' database (transactional).

    Started once (each start, guards warmed, took ~13 s): every test makes its own users and access groups, so the
    points an earlier test indexed in the shared collection are outside a later reader's filter, as they already were
    between the tests of one module.
    """
    from django.db import connection

    from devstack import localservers

    port = localservers.free_port()
    prefix = f"ws{uuid.uuid4().hex[:10]}"
    media = str(tmp_path_factory.mktemp("live-media"))  # uploads the tests make are files this Daphne serves
    env = {
        "MEDIA_ROOT": media,
        "DEBUG": "true",
        "TESTING": "true",
        "DOCINTEL_READ_DOT_ENV": "0",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_MAX_SIZE": "8",
        "REDIS_URL": os.environ["REDIS_URL"],
        "LLM_BASE_URL": llm_url,
        "EMBEDDING_BASE_URL": embedding_url,
        "QDRANT_URL": qdrant_url,
        "QDRANT_COLLECTION_PREFIX": prefix,
        "LLM_MAX_TOKENS": "120",
        "LLM_TEMPERATURE": "0",
        "DOCINTEL_NEMO_RAILS": "",
        "DOCINTEL_WS_HEARTBEAT_SECONDS": "1",
        "DOCINTEL_WS_HEARTBEAT_TIMEOUT": "1",
        "LOG_LEVEL": "INFO",
    }
    proc = localservers.daphne_server(port=port, env=env, log_dir=server_logs).start(timeout=60)
    yield LiveServer(port, prefix, llm_url, embedding_url, qdrant_url, media)
    proc.stop()


@pytest.fixture
def indexed(live_daphne, settings, transactional_db, finance):
    """The reservoir facts, indexed in the collection the live Daphne reads."""
    use_stack(
        settings,
        llm_url=live_daphne.llm_url,
        embedding_url=live_daphne.embedding_url,
        qdrant_url=live_daphne.qdrant_url,
    )
    settings.QDRANT_COLLECTION_PREFIX = live_daphne.collection_prefix
    doc = make_document(title="Kestrel reservoir facts", groups=[finance], language="en", mime_type="text/markdown")
    return doc, index_document(doc, PASSAGES, pages=[1, 2, 3])


def _two_pages(first: int) -> bytes:
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(str(GAZETTE))
    out = pdfium.PdfDocument.new()
    out.import_pages(source, [first, first + 1])
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def gazette(live_daphne, settings, finance):
    """Two pages of the shared Gazette (Law 4706/2020, its definitions), parsed, chunked and embedded for real."""
    use_stack(settings, llm_url=live_daphne.llm_url, embedding_url=live_daphne.embedding_url,
              qdrant_url=live_daphne.qdrant_url)  # fmt: skip
    settings.QDRANT_COLLECTION_PREFIX = live_daphne.collection_prefix
    settings.MEDIA_ROOT = live_daphne.media_root  # the live Daphne renders the PDF's page images from there
    doc = make_document(
        title="ΦΕΚ Α 136/2020 (ν. 4706/2020)", groups=[finance], content=_two_pages(2), status=Document.Status.QUEUED,
        stage=Document.Stage.UPLOADED, original_filename="fek-4706.pdf",
    )  # fmt: skip
    assert ingest.document_ingest(document_id=doc.pk) is ingest.NextStep.EMBED
    assert ingest.document_embed(document_id=doc.pk) is ingest.NextStep.NONE
    doc.refresh_from_db()
    assert doc.status == Document.Status.COMPLETED and doc.chunks.count() > 3
    return doc
