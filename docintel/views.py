"""Project-level pages: the landing redirect and the sign-in/sign-out views of the portal and the admin (audited).

Every sign-in, failed or not, writes an AuditLog row (``login`` or ``login_failed``, with the route). A failed one is
also counted by django-axes: once locked out the middleware answers 429 (``docintel.auth.lockout_response``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _

from audit.services import audit_log_write
from docintel.auth import login_username
from docintel.context import ActorContext
from docintel.services import user_tokens_revoke


def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on every page (the admin's too): the static icon."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


def home(request: HttpRequest) -> HttpResponse:
    """Readers land in the chat; everyone else is asked to sign in."""
    if request.user.is_authenticated:
        return HttpResponseRedirect(reverse("chat:home"))
    return HttpResponseRedirect(reverse("login"))


class LoginView(auth_views.LoginView):
    """``/accounts/login/``: the portal's sign-in page, each success and failure written to the audit log."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True
    audit_route = "portal"

    def form_valid(self, form: Any) -> HttpResponse:
        """Sign the user in as Django does, then audit a ``login`` with the route (``portal`` or ``admin``)."""
        response = super().form_valid(form)
        audit_log_write(
            action="login",
            ctx=ActorContext.from_request(self.request).as_actor(form.get_user()),
            details={"route": self.audit_route},
        )
        return response

    def form_invalid(self, form: Any) -> HttpResponse:
        """Audit a ``login_failed`` (the address tried, the form's error codes, whether axes locked it out)."""
        codes = sorted({error.code or "invalid" for errors in form.errors.as_data().values() for error in errors})
        audit_log_write(
            action="login_failed",
            target_type="docintel.user",
            target_repr=login_username(self.request, {"username": self.request.POST.get("username")}) or "",
            ctx=ActorContext.from_request(self.request),
            details={
                "route": self.audit_route,
                "reasons": codes,
                "locked_out": bool(getattr(self.request, "axes_locked_out", False)),
            },
        )
        return super().form_invalid(form)


class AdminLoginView(LoginView):
    """``/admin/login/``: Django's admin sign-in (same form, template and context), audited like the portal's."""

    template_name = "admin/login.html"
    authentication_form = AdminAuthenticationForm
    redirect_authenticated_user = False
    audit_route = "admin"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Send an active staff user who is already signed in (a GET) on to ``next`` or the admin; else the page.

        Args:
            request: the request to ``/admin/login/``.
            *args: URL arguments, passed on.
            **kwargs: URL keyword arguments, passed on.

        Returns:
            A redirect to the next page, or the sign-in page.
        """
        if request.method == "GET" and admin.site.has_permission(request):
            return HttpResponseRedirect(self.get_success_url())
        request.current_app = admin.site.name
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        """The admin's index: where a sign-in without ``?next=`` lands."""
        return reverse("admin:index", current_app=admin.site.name)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """The context Django's own admin sign-in gives ``admin/login.html`` (site header, title, ``next``)."""
        context = super().get_context_data(**kwargs)
        context.update(
            {
                **admin.site.each_context(self.request),
                "title": _("Log in"),
                "subtitle": None,
                "app_path": self.request.get_full_path(),
                "username": self.request.user.get_username(),
            }
        )
        if not context.get(REDIRECT_FIELD_NAME):
            context[REDIRECT_FIELD_NAME] = self.get_default_redirect_url()
        return context


class LogoutView(auth_views.LogoutView):
    """Signing out of the portal also revokes the user's outstanding API refresh tokens."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Sign out, then blacklist the user's outstanding refresh tokens and audit a ``logout`` with their count.

        Args:
            request: the sign-out request (POST only, as Django requires).
            *args: URL arguments, passed on.
            **kwargs: URL keyword arguments, passed on.

        Returns:
            Django's redirect after sign-out.
        """
        user = request.user if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if user is not None:
            revoked = user_tokens_revoke(user=user)
            ctx = ActorContext.from_request(request).as_actor(user)
            audit_log_write(action="logout", ctx=ctx, details={"tokens_revoked": revoked})
        return response
