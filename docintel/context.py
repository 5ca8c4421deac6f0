"""Who acts, from where: the explicit context every service takes instead of an ``HttpRequest``.

Transports (the admin, DRF views, template views, Channels consumers, Celery tasks, management commands) build an
:class:`ActorContext` and pass it as ``ctx=``; services read the actor from it and hand it to the audit writer,
which records the actor, the client's IP address, its user agent and the request id. Services therefore never see
an HTTP request, and a task or a command acts with the same code path as a librarian in the admin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.request import Request

    from docintel.models import User

USER_AGENT_MAX_CHARS = 512
"""The audit row's ``user_agent`` column holds this many characters."""


def _authenticated(user: Any) -> User | None:
    """``user`` when it is a signed-in user, else None (AnonymousUser, no user)."""
    return user if user is not None and getattr(user, "is_authenticated", False) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorContext:
    """The actor of a service call and where the call came from; immutable, cheap, safe to pass to a thread.

    Attributes:
        actor: the signed-in user who acts, or None for the system (a task, a command, an anonymous client).
        ip_address: the client's address as the server saw it (``REMOTE_ADDR`` or the ASGI ``client``); never a
            forwarded header, which whoever sends the request can set.
        user_agent: the client's ``User-Agent`` header, cut to what the audit row keeps.
        request_id: the id :class:`docintel.middleware.RequestIdMiddleware` gave the request (empty elsewhere).
    """

    actor: User | None = None
    ip_address: str | None = None
    user_agent: str = ""
    request_id: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest | Request) -> ActorContext:
        """The context of an HTTP request: its signed-in user, ``REMOTE_ADDR``, user agent and request id.

        A DRF ``Request`` works too (it proxies ``user``, ``META`` and ``headers`` to the Django request, and the
        user is the one DRF authenticated, a JWT bearer included).
        """
        ip = request.META.get("REMOTE_ADDR") or None
        return cls(
            actor=_authenticated(getattr(request, "user", None)),
            ip_address=str(ip) if ip else None,
            user_agent=str(request.headers.get("User-Agent", ""))[:USER_AGENT_MAX_CHARS],
            request_id=str(getattr(request, "request_id", "") or ""),
        )

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> ActorContext:
        """The context of a Channels (ASGI) connection: its user, the ``client`` address and the user agent.

        The request id is the one a middleware put in the scope (``request_id``), empty when there is none.
        """
        client = scope.get("client")
        ip = client[0] if isinstance(client, (list, tuple)) and client else None
        headers: Iterable[tuple[bytes, bytes]] = scope.get("headers") or ()
        agent = next((value for name, value in headers if name.lower() == b"user-agent"), b"")
        return cls(
            actor=_authenticated(scope.get("user")),
            ip_address=str(ip) if ip else None,
            user_agent=agent.decode("latin-1")[:USER_AGENT_MAX_CHARS],
            request_id=str(scope.get("request_id", "") or ""),
        )

    @classmethod
    def system(cls) -> ActorContext:
        """The context of work nobody asked for in person: a worker, a scheduled job, a command without a user."""
        return cls()

    @classmethod
    def for_user(cls, user: Any) -> ActorContext:
        """The context of ``user`` acting outside a request (a worker acting for them, a command given a user).

        Anything but a signed-in user (None, AnonymousUser) gives the system context.
        """
        return cls(actor=_authenticated(user))

    def as_actor(self, user: Any) -> ActorContext:
        """The same origin (IP, user agent, request id) with another actor: the user a sign-in just identified."""
        return dataclasses.replace(self, actor=_authenticated(user))

    @property
    def is_system(self) -> bool:
        """True when no user acts."""
        return self.actor is None
