"""The chat admin's answer list: the feedback column sums the ratings, the total-ms column shows the recorded total."""

from __future__ import annotations

import pytest

from chat.models import Feedback, Query, Response
from docintel.models import User

pytestmark = pytest.mark.django_db


def test_answer_list_shows_the_sum_of_ratings(client, superuser, reader):
    other = User.objects.create_user("other@example.com", "pw-other-1")
    disliked = Response.objects.create(query=Query.objects.create(user=reader, text="Πόσες ημέρες άδειας;"), text="x")
    liked = Response.objects.create(query=Query.objects.create(user=reader, text="How many leave days?"), text="y")
    Response.objects.create(query=Query.objects.create(user=reader, text="Unrated"), text="z")
    Feedback.objects.create(response=disliked, user=reader, rating=-1)
    Feedback.objects.create(response=disliked, user=other, rating=-1)
    Feedback.objects.create(response=liked, user=reader, rating=1)
    client.force_login(superuser)
    page = client.get("/admin/chat/response/").content.decode()
    assert '<td class="field-feedback_score">-2</td>' in page
    assert '<td class="field-feedback_score">+1</td>' in page
    assert page.count("field-feedback_score") == 3  # the unrated answer has an empty cell


def test_answer_list_shows_the_total_ms_the_service_writes(client, superuser, reader):
    """The column shows the total the answering service records (it read a key ``total`` nothing wrote: always '—')."""
    import time

    from chat.services.answering.persistence import AnswerRun

    run = AnswerRun(started=time.perf_counter() - 0.8124)
    run.total()  # what every finished answer does before it is saved
    query = Query.objects.create(user=reader, text="Πόσες ημέρες άδειας;")
    Response.objects.create(query=query, text="x", latency_ms=run.latency)
    Response.objects.create(query=Query.objects.create(user=reader, text="Untimed"), text="y", latency_ms={})
    client.force_login(superuser)
    page = client.get("/admin/chat/response/").content.decode()
    shown = [v for k, v in run.latency.items() if k.startswith("total")]
    assert len(shown) == 1 and shown[0] >= 812
    assert f'<td class="field-total_ms">{shown[0]}</td>' in page
    assert '<td class="field-total_ms">—</td>' in page  # an answer without timings
