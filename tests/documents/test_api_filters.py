"""The document list's query filters, alone, combined and refused, in English and Greek.

The document list's query filters (documents/api/filters.py, django-filter): each filter alone, combined, and
refused when invalid, with English and Greek documents; the OpenAPI schema states the same rules.
"""

from __future__ import annotations

import pytest

from documents.models import Document
from tests.factories import make_document

pytestmark = pytest.mark.django_db

URL = "/api/v1/documents/"


@pytest.fixture
def shelf(finance, legal):
    """Greek and English documents across two groups and two statuses."""
    return [
        make_document(title="Προϋπολογισμός 2025", groups=[finance], language="el"),
        make_document(title="Budget 2025", groups=[finance], language="en"),
        make_document(title="Σύμβαση", groups=[legal], language="el", status=Document.Status.FAILED),
        make_document(title="Contract", groups=[finance, legal], language="en", status=Document.Status.QUEUED),
    ]


def _titles(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {d["title"] for d in response.json()["results"]}


def test_status_filter(api_as, librarian, shelf):
    client = api_as(librarian)
    assert _titles(client.get(URL, {"status": "failed"})) == {"Σύμβαση"}
    assert _titles(client.get(URL, {"status": "queued"})) == {"Contract"}
    assert _titles(client.get(URL, {"status": "completed"})) == {"Προϋπολογισμός 2025", "Budget 2025"}
    assert _titles(client.get(URL, {"status": "processing"})) == set()


def test_language_filter(api_as, librarian, shelf):
    client = api_as(librarian)
    assert _titles(client.get(URL, {"language": "el"})) == {"Προϋπολογισμός 2025", "Σύμβαση"}
    assert _titles(client.get(URL, {"language": "en"})) == {"Budget 2025", "Contract"}
    assert _titles(client.get(URL, {"language": "ελ"})) == set()  # exact match, any text up to 16 characters


def test_group_filter_for_a_librarian_and_a_reader(api_as, librarian, reader, shelf, finance, legal):
    assert _titles(api_as(librarian).get(URL, {"group": legal.pk})) == {"Σύμβαση", "Contract"}
    # the reader is in Finance only (and sees completed documents only): their own group filters, another group's
    # id answers nothing, even for "Contract", which is shared with Finance too
    assert _titles(api_as(reader).get(URL, {"group": finance.pk})) == {"Προϋπολογισμός 2025", "Budget 2025"}
    assert _titles(api_as(reader).get(URL, {"group": legal.pk})) == set()


def test_filters_combine_with_and(api_as, librarian, shelf, legal):
    client = api_as(librarian)
    assert _titles(client.get(URL, {"language": "el", "group": legal.pk})) == {"Σύμβαση"}
    assert _titles(client.get(URL, {"language": "en", "status": "queued", "group": legal.pk})) == {"Contract"}
    assert _titles(client.get(URL, {"language": "el", "status": "queued"})) == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "exploded"}, "status"),
        ({"status": "ολοκληρώθηκε"}, "status"),
        ({"status": ""}, "status"),
        ({"language": ""}, "language"),
        ({"language": "x" * 17}, "language"),
        ({"language": "el\x00"}, "language"),
        ({"group": "x"}, "group"),
        ({"group": "ένα"}, "group"),
        ({"group": "0"}, "group"),
        ({"group": "1.5"}, "group"),
        ({"group": ""}, "group"),
    ],
)
def test_an_invalid_value_answers_invalid_input_naming_the_parameter(api_as, librarian, shelf, params, field):
    response = api_as(librarian).get(URL, params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_input" and set(body["detail"]) == {field}


def test_unknown_parameters_are_ignored_as_before(api_as, librarian, shelf):
    assert len(_titles(api_as(librarian).get(URL, {"colour": "blue"}))) == 4


def test_the_schema_states_the_filters_rules(api_as, librarian):
    schema = api_as(librarian).get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    params = {p["name"]: p for p in schema["paths"]["/api/v1/documents/"]["get"]["parameters"]}
    assert set(params) == {"status", "language", "group", "page"}
    assert sorted(params["status"]["schema"]["enum"]) == sorted(Document.Status.values)
    assert params["language"]["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 16,
        "pattern": "^[^\\u0000]+$",
    }
    assert params["group"]["schema"] == {"type": "integer", "minimum": 1}
    assert "their own groups" in params["group"]["description"]
