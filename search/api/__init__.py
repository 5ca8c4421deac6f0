"""The search API, ``GET /api/v1/search``: query parameters and the response shape (:mod:`.serializers`)."""
