"""Server-rendered chat pages for readers."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chat.models import ChatSession
from docintel.models import User


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The reader's chat home: their sessions, newest first."""
    sessions = ChatSession.objects.filter(user=cast(User, request.user)).order_by("-updated_at")[:50]
    return render(request, "chat/home.html", {"sessions": sessions})
