"""The search tests' stack and a Greek and an English law indexed in it.

The search tests' stack (the session's real embedding server and vector store, a fresh collection; no LLM), and
a Greek and an English law indexed in it.
"""

from __future__ import annotations

import uuid

import pytest

from tests.factories import make_document
from tests.support import index_document

GREEK_LAW = [
    "Άρθρο 1. Σκοπός του νόμου είναι η εταιρική διακυβέρνηση των ανωνύμων εταιρειών.",
    "Άρθρο 2. Ορισμοί. Η «Επιτροπή Ελέγχου» είναι η επιτροπή του άρθρου 44 του ν. 4449/2017.",
    "Άρθρο 3. Το διοικητικό συμβούλιο εγκρίνει τον κανονισμό λειτουργίας της εταιρείας.",
    "Άρθρο 4. Η γενική συνέλευση εκλέγει τα μέλη της επιτροπής ελέγχου κάθε χρόνο.",
]
ENGLISH_LAW = [
    "Article 1. The purpose of this law is the corporate governance of listed companies.",
    "Article 2. Definitions. The Audit Committee is the committee of article 44 of Law 4449/2017.",
    "Article 3. The board of directors approves the rules of operation of the company.",
    "Article 4. The general meeting elects the members of the audit committee every year.",
]


@pytest.fixture
def search_stack(settings, embedding_url, qdrant_url):
    settings.EMBEDDING_BASE_URL = embedding_url
    settings.QDRANT_URL = qdrant_url
    settings.QDRANT_COLLECTION_PREFIX = f"s{uuid.uuid4().hex[:10]}"
    return settings


@pytest.fixture
def laws(search_stack, finance, legal):
    greek = make_document(title="Νόμος 4706/2020", groups=[finance], language="el")
    english = make_document(title="Law 4706/2020", groups=[finance, legal], language="en")
    return greek, index_document(greek, GREEK_LAW, pages=[1, 1, 2, 3]), english, index_document(english, ENGLISH_LAW)
