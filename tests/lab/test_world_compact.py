"""The world's JSON fragments: what json.dumps(sort_keys=True) writes, faster."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cozyplan.lab.framework import _compact
from tests.jsondata import json_values

_json = json_values(floats=False)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_compact_is_what_json_dumps_writes(value: Any) -> None:
    assert _compact(value) == json.dumps(value, sort_keys=True, separators=(",", ":"))


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_read_back_the_same(value: float) -> None:
    assert json.loads(_compact({"x": value})) == {"x": value}
