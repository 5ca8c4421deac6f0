"""Schemathesis hooks of tests/e2e/test_api_live.py (loaded through ``SCHEMATHESIS_HOOKS``)."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except two that a multipart body cannot avoid.

    - The ASGI server's own answer to a multipart body without any part: Twisted (under Daphne) parses multipart
      bodies itself and answers a malformed one with a bare 400 (no body, no Content-Type) before Django runs, so no
      view can give it the JSON error shape.
    - A "schema-violating" request whose only violation is a string field sent as a number: every multipart field
      is text on the wire (a title ``6708`` is a valid title), so the server cannot and should not refuse it.
    """
    multipart = str(case.media_type or "").startswith("multipart/form-data")
    if not multipart:
        return True
    headers = {str(name).lower() for name in response.headers}
    bare_400 = response.status_code == 400 and not response.content and "content-type" not in headers
    violations = [line for line in str(getattr(failure, "message", "")).splitlines() if "violates" in line]
    typed_text = (
        getattr(failure, "code", "") == "ST201"
        and bool(violations)
        and all("violates `type`" in line and "was string" in line for line in violations)
    )
    return not (bare_400 or typed_text)
