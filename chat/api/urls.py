"""``/api/v1/``: questions (sync and SSE), chat sessions, feedback."""

from django.urls import path

from chat.api import views

urlpatterns = [
    path("query", views.QueryView.as_view(), name="query"),
    path("query/stream", views.QueryStreamView.as_view(), name="query-stream"),
    path("sessions/", views.SessionListView.as_view(), name="sessions"),
    path("sessions/<uuid:session_id>/", views.SessionDetailView.as_view(), name="session"),
    path("responses/<int:response_id>/feedback/", views.FeedbackView.as_view(), name="response-feedback"),
]
