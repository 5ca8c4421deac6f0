"""Strict integer parsing of query parameters (issue 13, row 7): one helper, ASCII digits only."""

from __future__ import annotations

import pytest

from docintel.params import MAX_ID, int_list_param, int_param


@pytest.mark.parametrize(
    "raw", [None, "", "²", "¹²", "٣", "𝟙", "+1", "-1", " 1", "1 ", "1_000", "0x10", "1.0", "0", str(MAX_ID + 1)]
)
def test_int_param_refuses_everything_but_plain_ascii_digits(raw):
    assert int_param(raw) is None


def test_int_param_accepts_ids_and_respects_the_bounds():
    assert int_param("42") == 42
    assert int_param(str(MAX_ID)) == MAX_ID
    assert int_param("007") == 7
    assert int_param("5", minimum=6) is None
    assert int_param("0", minimum=0) == 0
    assert int_param("11", maximum=10) is None


def test_int_list_param_skips_bad_items_and_stops_at_the_limit():
    assert int_list_param("1,²,2, 3 ,x,,4", limit=10) == [1, 2, 3, 4]
    assert int_list_param("1,2,3,4", limit=2) == [1, 2]
    assert int_list_param("", limit=5) == []
    assert int_list_param(None, limit=5) == []
