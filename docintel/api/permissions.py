"""Permissions shared by the app APIs (question quotas live in :mod:`chat.services.quota`)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsLibrarianToWrite(BasePermission):
    """Anyone authenticated may read; only librarians (and superusers) may write.

    On detail routes the check runs on the object, after the lookup, so an id the user may not see answers 404
    before any 403 could tell that it exists.
    """

    message = "Only librarians may change documents."

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Reads pass; a write passes for librarians, or for anyone on a view that checks writes per object.

        Views with ``object_level_write = True`` (document detail routes) defer the check to
        :meth:`has_object_permission`, after the lookup, so an invisible id answers 404 rather than 403.
        """
        if request.method in SAFE_METHODS or getattr(view, "object_level_write", False):
            return True
        return bool(getattr(request.user, "is_librarian", False))

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        """Reads of an object the queryset let through pass; writing it is for librarians only."""
        return request.method in SAFE_METHODS or bool(getattr(request.user, "is_librarian", False))
