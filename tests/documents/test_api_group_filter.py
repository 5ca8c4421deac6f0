"""No ``?group=`` oracle (issue 13, row 7): a reader cannot learn which visible documents other groups share."""

from __future__ import annotations

import pytest

from tests.factories import make_document

pytestmark = pytest.mark.django_db

URL = "/api/v1/documents/"


def _titles(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {d["title"] for d in response.json()["results"]}


def test_a_reader_filtering_by_a_group_they_are_not_in_learns_nothing(api_as, reader, librarian, finance, legal):
    make_document(title="Shared with legal too", groups=[finance, legal])
    make_document(title="Finance only", groups=[finance])
    client = api_as(reader)
    # before: {"Shared with legal too"}, i.e. which of the reader's documents Legal may also read
    assert _titles(client.get(URL, {"group": legal.pk})) == set()
    assert _titles(client.get(URL, {"group": finance.pk})) == {"Shared with legal too", "Finance only"}
    assert _titles(api_as(librarian).get(URL, {"group": legal.pk})) == {"Shared with legal too"}


def test_each_chunk_read_through_the_api_is_audited(api_as, reader, outsider, finance):
    from audit.models import AuditLog
    from tests.factories import make_chunk

    doc = make_document(title="Budget", groups=[finance])
    chunks = [make_chunk(doc, n, text=f"passage {n}") for n in range(3)]
    assert api_as(reader).get(f"{URL}{doc.pk}/chunks/").status_code == 200
    row = AuditLog.objects.get(action="chunks_read")  # before: no row
    assert (row.actor, row.target_type, row.target_id) == (reader, "documents.document", str(doc.pk))
    assert row.details == {"chunk_ids": [c.pk for c in chunks]}
    assert api_as(outsider).get(f"{URL}{doc.pk}/chunks/").status_code == 404
    assert AuditLog.objects.filter(action="chunks_read").count() == 1  # a refused read writes nothing
