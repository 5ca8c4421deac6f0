"""Django management commands of the chat app (see :mod:`chat.management.commands`)."""
