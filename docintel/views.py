"""Project-level pages: the landing redirect and the login/logout views (audited)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from audit.services import audit_log_write


def home(request: HttpRequest) -> HttpResponse:
    """Readers land in the chat; everyone else is asked to sign in."""
    if request.user.is_authenticated:
        return HttpResponseRedirect(reverse("chat:home"))
    return HttpResponseRedirect(reverse("login"))


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        audit_log_write(action="login", actor=form.get_user(), request=self.request)
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if user is not None:
            audit_log_write(action="logout", actor=user, request=request)
        return response
