"""Project-level API views: health, JWT tokens (issue, rotate, revoke; audited), the JSON 404 of unknown API paths."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from audit.services import audit_log_write
from docintel.api.fields import (
    StrictTokenBlacklistSerializer,
    StrictTokenObtainSerializer,
    StrictTokenRefreshSerializer,
    StrictTokenVerifySerializer,
)
from docintel.api.schema import error_responses
from docintel.auth import lockout_error, lockout_retry_after, login_username
from docintel.context import ActorContext
from docintel.errors import NotFound
from docintel.health import health_check

_HEALTH = inline_serializer(
    "Health",
    fields={
        "status": serializers.ChoiceField(choices=["ok", "down"]),
        "checks": serializers.DictField(
            child=inline_serializer(
                "HealthCheck",
                fields={
                    "ok": serializers.BooleanField(),
                    "latency_ms": serializers.FloatField(),
                    "error": serializers.CharField(),
                    "required": serializers.BooleanField(),
                },
            )
        ),
    },
)


class HealthView(APIView):
    """``/api/v1/health``: the probe of every dependency, for load balancers and operators (no sign-in)."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    @extend_schema(
        responses={200: _HEALTH, 503: _HEALTH},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        """Database, Redis, Qdrant and LLM status with latency each: 200 when all are up, 503 otherwise."""
        report = health_check()
        return Response(report, status=200 if report["status"] == "ok" else 503)


@csrf_exempt  # nothing to protect: it only ever answers 404, for every method
def api_not_found(request: HttpRequest) -> JsonResponse:
    """Any path under ``/api/v1/`` that names no route: the JSON error shape, never Django's HTML page."""
    return JsonResponse(NotFound().as_dict(), status=404)


_TOKEN_ERRORS = error_responses(400, 415)


def _jti(raw: str) -> str:
    return str(RefreshToken(raw, verify=False).get("jti", ""))  # type: ignore[arg-type]  # simplejwt accepts str


@extend_schema_view(
    post=extend_schema(responses={200: TokenObtainPairSerializer, **_TOKEN_ERRORS, **error_responses(429)}, auth=[])
)
class TokenObtainView(jwt_views.TokenObtainPairView):
    """Sign-in for API clients: simplejwt's pair view, strict JSON, audited (issued and failed), axes lockout."""

    parser_classes = (JSONParser,)
    serializer_class = StrictTokenObtainSerializer

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Email and password in, an access and a refresh token out (``Authorization: Bearer <access>``).

        Five failed attempts for one email address from one client lock that pair out for 15 minutes:
        429 ``login_locked_out`` with ``detail.retry_after`` in seconds, and a ``Retry-After`` header.
        """
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except AuthenticationFailed:
            locked_out = bool(getattr(request, "axes_locked_out", False))
            audit_log_write(
                action="login_failed",
                target_type="docintel.user",
                target_repr=login_username(request, serializer.initial_data) or "",
                ctx=ActorContext.from_request(request),
                details={"route": "api", "locked_out": locked_out},
            )
            if locked_out:
                error = lockout_error()
                headers = {"Retry-After": str(lockout_retry_after())}
                return Response(error.as_dict(), status=error.status, headers=headers)
            raise
        data = serializer.validated_data
        audit_log_write(
            action="token_issued",
            ctx=ActorContext.from_request(request).as_actor(getattr(serializer, "user", None)),
            details={"grant": "password", "jti": _jti(data["refresh"])},
        )
        return _no_store(Response(data))


@extend_schema_view(post=extend_schema(responses={200: TokenRefreshSerializer, **_TOKEN_ERRORS}, auth=[]))
class TokenRefreshView(jwt_views.TokenRefreshView):
    """Token rotation: simplejwt's refresh view, strict JSON, audited (``token_issued``, grant ``refresh``)."""

    parser_classes = (JSONParser,)
    serializer_class = StrictTokenRefreshSerializer

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A refresh token in, a new access and a new refresh token out; the one sent is blacklisted (rotation)."""
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        data = serializer.validated_data
        audit_log_write(
            action="token_issued",
            ctx=ActorContext.from_request(request).as_actor(getattr(serializer, "user", None)),
            details={"grant": "refresh", "jti": _jti(data["refresh"])},
        )
        return _no_store(Response(data))


@extend_schema_view(
    post=extend_schema(
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The token was revoked."), **_TOKEN_ERRORS},
        auth=[],
    )
)
class TokenRevokeView(jwt_views.TokenBlacklistView):
    """Sign-out for API clients: simplejwt's blacklist view, strict JSON, audited (``token_revoked``)."""

    parser_classes = (JSONParser,)
    serializer_class = StrictTokenBlacklistSerializer

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Sign out: the refresh token sent is blacklisted and can no longer be refreshed (401 afterwards)."""
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        token = RefreshToken(serializer.initial_data["refresh"], verify=False)
        user = get_user_model().objects.filter(pk=token.get("user_id")).first()
        audit_log_write(
            action="token_revoked",
            ctx=ActorContext.from_request(request).as_actor(user),
            details={"jti": str(token.get("jti", ""))},
        )
        return Response({})


@extend_schema_view(
    post=extend_schema(
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The token is valid."), **_TOKEN_ERRORS},
        auth=[],
    )
)
class TokenVerifyView(jwt_views.TokenVerifyView):
    """200 when the token is valid, 401 otherwise."""

    parser_classes = (JSONParser,)
    serializer_class = StrictTokenVerifySerializer


def _no_store(response: Response) -> Response:
    response["Cache-Control"] = "no-store"
    return response
