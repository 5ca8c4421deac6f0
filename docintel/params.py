"""Strict parsing of integers taken from query strings: ASCII digits only, within the range of a database id.

``str.isdigit()`` accepts superscripts and other Unicode digits (``"²".isdigit()`` is true) that ``int()`` then
refuses, and ``int()`` itself accepts signs, white space, underscores and non-ASCII decimal digits. Every view that
reads a number from ``request.GET`` goes through these helpers instead.
"""

from __future__ import annotations

import re

_ASCII_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)
MAX_ID = 2**63 - 1
"""The largest value a PostgreSQL ``bigint`` (Django's ``BigAutoField``) holds."""


def int_param(raw: str | None, *, minimum: int = 1, maximum: int = MAX_ID) -> int | None:
    """Return ``raw`` as an int when it is plain ASCII digits within ``[minimum, maximum]``, else None.

    Args:
        raw: the query-string value (``None`` or ``""`` when absent).
        minimum: the smallest accepted value (ids start at 1).
        maximum: the largest accepted value (a ``bigint`` by default).

    Returns:
        The number, or None for anything else: absent, empty, signed, spaced, non-ASCII digits, out of range.
    """
    if not raw or not _ASCII_DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None


def int_list_param(raw: str | None, *, limit: int, minimum: int = 1, maximum: int = MAX_ID) -> list[int]:
    """Parse a comma-separated list of ids (``?ids=1,2,3``), skipping the items that are not strict integers.

    Args:
        raw: the query-string value.
        limit: at most this many ids are returned (the first ones).
        minimum: the smallest accepted value.
        maximum: the largest accepted value.

    Returns:
        The valid ids in their order, at most ``limit`` of them.
    """
    values: list[int] = []
    for item in (raw or "").split(","):
        value = int_param(item.strip(), minimum=minimum, maximum=maximum)
        if value is not None:
            values.append(value)
            if len(values) >= limit:
                break
    return values
