"""Django app configuration of the chat app."""

from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Registers the chat app (sessions, questions, answers, feedback), shown as "Chat" in the admin; 64-bit ids."""

    name = "chat"
    verbose_name = "Chat"
    default_auto_field = "django.db.models.BigAutoField"
