"""``/api/v1/documents/``."""

from django.urls import path

from documents.api import views

urlpatterns = [
    path("documents/", views.DocumentListView.as_view(), name="documents"),
    path("documents/<int:pk>/", views.DocumentDetailView.as_view(), name="document"),
    path("documents/<int:pk>/chunks/", views.DocumentChunksView.as_view(), name="document-chunks"),
    path("documents/<int:pk>/reingest/", views.DocumentReingestView.as_view(), name="document-reingest"),
    path("documents/<int:pk>/versions/", views.DocumentVersionsView.as_view(), name="document-versions"),
    path("documents/<int:pk>/restore/", views.DocumentRestoreView.as_view(), name="document-restore"),
]
