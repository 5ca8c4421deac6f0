"""The source view behind a citation chip (issue 13): strict ``?chunk=`` parsing and an audit row per view."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditLog
from tests.factories import make_chunk, make_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(finance):
    doc = make_document(title="Annual report", groups=[finance], mime_type="text/markdown")
    for n in range(3):
        make_chunk(doc, n, text=f"Passage {n}", heading_path=["Results"])
    return doc


@pytest.mark.parametrize("raw", ["²", "¹²", "٣", "+1", " 1", "1_0", "9" * 40])
def test_a_chunk_that_is_not_a_plain_integer_is_404_not_500(client, reader, report, raw):
    # before: "²".isdigit() is true, int("²") raised ValueError -> 500
    client.force_login(reader)
    response = client.get(reverse("chat:document_source", args=[report.pk]), {"chunk": raw})
    assert response.status_code == 404
    assert not AuditLog.objects.filter(action="source_viewed").exists()


def test_each_source_view_writes_an_audit_row_with_the_chunks_shown(client, reader, report):
    cited = report.chunks.get(ordinal=1)
    client.force_login(reader)
    page = client.get(reverse("chat:document_source", args=[report.pk]), {"chunk": cited.pk}, REMOTE_ADDR="10.1.2.3")
    assert page.status_code == 200
    row = AuditLog.objects.get(action="source_viewed")
    assert (row.actor, row.target_type, row.target_id) == (reader, "documents.document", str(report.pk))
    assert row.ip_address == "10.1.2.3"
    assert row.details["chunk_id"] == cited.pk
    assert sorted(row.details["chunk_ids"]) == sorted(report.chunks.values_list("pk", flat=True))


def test_a_refused_source_view_writes_no_audit_row(client, outsider, report):
    client.force_login(outsider)
    assert client.get(reverse("chat:document_source", args=[report.pk])).status_code == 404
    assert not AuditLog.objects.filter(action="source_viewed").exists()
