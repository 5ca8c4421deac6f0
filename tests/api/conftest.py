"""API clients signed in as each persona with a real JWT (the same path as any API client)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken


@pytest.fixture(autouse=True)
def _fresh_throttles(settings, request):
    """Throttle counters live in the cache: each test gets its own (never a flush of the shared Redis database)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }


@pytest.fixture
def api_as() -> Callable[..., APIClient]:
    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return make


@pytest.fixture
def anon(api_as: Callable[..., APIClient]) -> APIClient:
    return api_as(None)
