"""Project-level API views: health."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

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

    @extend_schema(responses={200: _HEALTH, 503: _HEALTH}, auth=[])
    def get(self, request: Request) -> Response:
        report = health_check()
        return Response(report, status=200 if report["status"] == "ok" else 503)
