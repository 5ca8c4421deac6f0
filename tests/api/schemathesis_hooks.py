"""Schemathesis hooks of tests/api/test_live.py (loaded through ``SCHEMATHESIS_HOOKS``)."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except the ASGI server's own answer to a multipart body without any part.

    Twisted (under Daphne) parses multipart bodies itself and answers a malformed one with a bare 400 (no body, no
    Content-Type) before Django runs, so no view can give it the JSON error shape. Only that exact case is dropped.
    """
    headers = {str(name).lower() for name in response.headers}
    bare_400 = response.status_code == 400 and not response.content and "content-type" not in headers
    multipart = str(case.media_type or "").startswith("multipart/form-data")
    return not (bare_400 and multipart)
