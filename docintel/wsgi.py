"""WSGI entry point for plain-HTTP servers and tools; the portal itself is served by Daphne (:mod:`docintel.asgi`).

WSGI carries no WebSockets, so the chat and the ingestion progress feed need the ASGI application.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docintel.settings")
application = get_wsgi_application()
