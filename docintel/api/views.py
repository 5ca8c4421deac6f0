"""Project-level API views: health, JWT tokens, the JSON 404 of unknown API paths."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer

from docintel.api.fields import (
    StrictTokenObtainSerializer,
    StrictTokenRefreshSerializer,
    StrictTokenVerifySerializer,
)
from docintel.api.schema import error_responses
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
    """Database, Redis, Qdrant and LLM status with latency each: 200 when all are up, 503 otherwise."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    @extend_schema(
        responses={200: _HEALTH, 503: _HEALTH},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        report = health_check()
        return Response(report, status=200 if report["status"] == "ok" else 503)


@csrf_exempt  # nothing to protect: it only ever answers 404, for every method
def api_not_found(request: HttpRequest) -> JsonResponse:
    """Any path under ``/api/v1/`` that names no route: the JSON error shape, never Django's HTML page."""
    return JsonResponse(NotFound().as_dict(), status=404)


_TOKEN_ERRORS = error_responses(400, 415)


@extend_schema_view(post=extend_schema(responses={200: TokenObtainPairSerializer, **_TOKEN_ERRORS}, auth=[]))
class TokenObtainView(jwt_views.TokenObtainPairView):
    """Email and password in, an access and a refresh token out (``Authorization: Bearer <access>``)."""

    parser_classes = (JSONParser,)
    serializer_class = StrictTokenObtainSerializer


@extend_schema_view(post=extend_schema(responses={200: TokenRefreshSerializer, **_TOKEN_ERRORS}, auth=[]))
class TokenRefreshView(jwt_views.TokenRefreshView):
    """A refresh token in, a new access token out."""

    parser_classes = (JSONParser,)
    serializer_class = StrictTokenRefreshSerializer


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
