"""``/api/v1/``: every app's API under one version prefix, plus health, JWT and the OpenAPI schema."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from docintel.api.views import (
    HealthView,
    TokenObtainView,
    TokenRefreshView,
    TokenRevokeView,
    TokenVerifyView,
    api_not_found,
)

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves its init script from ?script, so the page needs no inline script (CSP)
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/swagger_ui.html"),
        name="docs",
    ),
    path("auth/token/", TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/token/verify/", TokenVerifyView.as_view(), name="token-verify"),
    path("auth/logout/", TokenRevokeView.as_view(), name="logout"),
    path("", include("documents.api.urls")),
    path("", include("chat.api.urls")),
    path("", include("search.api.urls")),
    # last: an unknown API path (even one with a newline in it) answers the JSON error shape, not an HTML page
    re_path(r"^[\s\S]*$", api_not_found),
]
