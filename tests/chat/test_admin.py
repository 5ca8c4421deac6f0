"""The chat admin's answer list: the feedback column sums the readers' ratings (it read an attribute nothing set)."""

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
