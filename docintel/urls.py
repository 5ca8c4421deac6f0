"""The portal's URL map: sign-in and sign-out, language switch, the admin, ``/api/v1/``, the search and chat pages."""

from django.contrib import admin
from django.urls import include, path

from docintel import views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/login/", views.AdminLoginView.as_view(), name="admin_login"),  # before the admin's own: audited
    path("admin/", admin.site.urls),
    path("api/v1/", include(("docintel.api.urls", "api"), namespace="api")),
    path("", include("search.urls")),
    path("", include("chat.urls")),
]
