"""Reader page route of the search app: ``/search/``, the server-rendered search page."""

from django.urls import path

from search import views

app_name = "search"

urlpatterns = [
    path("search/", views.search_page, name="page"),
]
