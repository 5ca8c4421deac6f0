"""Reader page routes: the chat home, sessions, feedback on an answer, and the source view behind a citation chip.

The source view (and its PDF page images) is routed here because the chat pages open it.
"""

from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("chat/", views.home, name="home"),
    path("chat/new/", views.session_new, name="session_new"),
    path("chat/<uuid:session_id>/", views.session_detail, name="session"),
    path("chat/responses/<int:response_id>/feedback/", views.feedback, name="feedback"),
    # The source view is part of the reader pages (citation chips open it), so it is routed here.
    path("documents/<int:document_id>/source/", views.document_source, name="document_source"),
    path("documents/<int:document_id>/pages/<int:page>.png", views.document_page_image, name="document_page"),
]
